/* The floor: an empty program on each benchmark hook. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_openat")
int empty_open(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int empty_exec(void *ctx)
{
	return 0;
}

SEC("cgroup/connect4")
int empty_connect(struct bpf_sock_addr *ctx)
{
	return 1;
}
