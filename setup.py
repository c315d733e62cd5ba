from pathlib import Path

from setuptools import find_packages, setup

version = {}
for line in Path("fusionmat/__init__.py").read_text().splitlines():
    if line.startswith("__version__"):
        exec(line, version)

LATEFUSION = ["tensorflow>=2.16", "tf_keras>=2.16", "h5py>=3.10"]
"""The paper's network (`--engine latefusion`): about 1.9 GB that the default engine never uses."""
EXPORT = [*LATEFUSION, "tf2onnx>=1.16", "onnx>=1.16", "coremltools>=8.0"]
"""`fusionmat export`: the Late Fusion network and the converters."""
RAY = ["ray[data]>=2.40", "fsspec>=2024.6", "universal_pathlib>=0.2.5"]
"""`fusionmat batch --executor ray` and fsspec URLs (add the store's back end: s3fs, gcsfs, ...)."""
VIDEO = ["av>=12.0"]
"""`fusionmat video`: PyAV, with FFmpeg's libraries in its wheel."""
SERVE = ["starlette>=0.40", "uvicorn>=0.30", "python-multipart>=0.0.9"]
"""`fusionmat serve`: the HTTP API and web page."""

setup(
    name="fusionmat",
    version=version["__version__"],
    description="Portrait matting from the command line: soft alpha mattes, previews, cut-outs and composites",
    long_description=Path("README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["fusionmat", "fusionmat.*"]),
    package_data={"fusionmat": ["weights_manifest.json", "serve/static/*.html"]},
    install_requires=[
        "numpy>=1.26",
        "pillow>=10.0",
        "click>=8.1",
        "tqdm>=4.66",
        "opencv-python-headless>=4.9",
        "scipy>=1.11",
        "pymatting>=1.1.12",
        "ai-edge-litert>=1.2",
        "onnxruntime>=1.18",
    ],
    extras_require={
        "latefusion": LATEFUSION,
        "export": EXPORT,
        "ray": RAY,
        "serve": SERVE,
        "video": VIDEO,
        "test": ["pytest>=8", "scikit-image>=0.22", "httpx>=0.27", "selenium>=4.20", *EXPORT, *RAY, *SERVE, *VIDEO],
    },
    entry_points={"console_scripts": ["fusionmat=fusionmat.cli:main"]},
)
