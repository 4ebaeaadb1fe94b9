module github.com/prodcat/prodcat

go 1.26.8

require (
	github.com/sirupsen/logrus v1.10.2
	github.com/spf13/cobra v1.10.2
	go.temporal.io/sdk v1.50.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
