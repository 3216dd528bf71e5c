# Convenience targets; everything is also available as plain commands (see README.md).
PREFIX ?= /usr/local

.PHONY: all lib test test-all install example clean-example
all: lib

lib:
	cargo build --release

# Rust tests and the C tests (tests/c_api.rs).
test:
	cargo test --release

# Everything: Rust, C, install/pkg-config, Julia and R suites.
test-all:
	scripts/test-all.sh

install:
	scripts/install.sh $(PREFIX)

example: lib
	$(MAKE) -C bindings/c run

clean-example:
	$(MAKE) -C bindings/c clean
