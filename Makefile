# One obvious command per task. `make test` installs what the tests need
# (Debian packages, Redis, PostgreSQL) and runs them all.
.PHONY: test bench lint build

build:
	go build -o bin/hearth ./cmd/hearth

test:
	bash .ci/test.sh

bench:
	go run ./cmd/hearth bench warm

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	go vet ./...
