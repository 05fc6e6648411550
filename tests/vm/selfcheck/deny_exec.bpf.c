// SPDX-License-Identifier: GPL-2.0
/*
 * VM harness self-check, not product code: a BPF LSM program that refuses
 * execve of exactly one test path (DENIED_PATH) with EPERM and allows
 * everything else. The VM scenarios load it with lsm-pin.c to prove that the
 * guest kernel can load, attach and enforce BPF LSM programs; polrt's own
 * objects take over that role once the runtime exists.
 *
 * Built by tests/vm/prepare.sh with: clang -O2 -g -target bpf
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef DENIED_PATH
#define DENIED_PATH "/tmp/polc-vm-selfcheck/denied"
#endif

#define EPERM 1

/* Only the member read here; CO-RE resolves its offset on each kernel. */
struct linux_binprm {
	const char *filename;
} __attribute__((preserve_access_index));

/* A global, so it lands in .rodata with BTF that libbpf 1.1 accepts. */
const char denied[] = DENIED_PATH;

SEC("lsm/bprm_check_security")
int deny_exec(unsigned long long *ctx)
{
	struct linux_binprm *bprm = (struct linux_binprm *)ctx[0];
	char path[sizeof(denied)] = {};
	long n;

	n = bpf_probe_read_kernel_str(path, sizeof(path), bprm->filename);
	if (n != sizeof(denied))
		return 0;
	for (int i = 0; i < (int)sizeof(denied); i++)
		if (path[i] != denied[i])
			return 0;
	return -EPERM;
}

char LICENSE[] SEC("license") = "GPL";
