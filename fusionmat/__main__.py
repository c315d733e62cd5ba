from fusionmat.cli import main

main()
