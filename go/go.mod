module strided/go

go 1.19
