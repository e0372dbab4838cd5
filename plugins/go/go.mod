module mmhost

go 1.24
