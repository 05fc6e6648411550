// SPDX-License-Identifier: GPL-2.0
/*
 * VM harness self-check, not product code: load a BPF object with libbpf,
 * attach its one program (an LSM program here) and pin the link at PIN_PATH,
 * then exit. The program stays attached until the pin is removed
 * (`rm PIN_PATH`). bpftool 7.1 cannot attach LSM programs, hence this loader.
 *
 * Usage: lsm-pin OBJECT PIN_PATH
 * Built by tests/vm/prepare.sh with: cc -O2 lsm-pin.c -lbpf
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_link *link;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: %s OBJECT PIN_PATH\n", argv[0]);
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "lsm-pin: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "lsm-pin: load %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	prog = bpf_object__next_program(obj, NULL);
	if (!prog) {
		fprintf(stderr, "lsm-pin: %s has no program\n", argv[1]);
		return 1;
	}
	link = bpf_program__attach(prog);
	if (!link) {
		fprintf(stderr, "lsm-pin: attach %s: %s\n", bpf_program__name(prog), strerror(errno));
		return 1;
	}
	err = bpf_link__pin(link, argv[2]);
	if (err) {
		fprintf(stderr, "lsm-pin: pin at %s: %s\n", argv[2], strerror(-err));
		return 1;
	}
	printf("lsm-pin: %s attached, link pinned at %s\n", bpf_program__name(prog), argv[2]);
	return 0;
}
