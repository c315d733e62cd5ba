"""The Late Fusion CNN (Zhang et al., CVPR 2019) in tf_keras, and its Keras-2 HDF5 loader."""
