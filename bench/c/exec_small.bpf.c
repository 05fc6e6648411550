/* C equivalent of bench/pol/exec_small.pol on tracepoint
 * syscalls/sys_enter_execve (the program polc's exec tracepoint backend
 * runs for execve). */
#define N_RULES 2
#include "bench.h"

struct record {
	struct header h;
	u64 uid;
	char parent_comm[16];
	char path[256];
};

SCRATCH_MAP(struct record);

static __always_inline bool is_shell(const char *path, long len)
{
	return STR_EQ(path, len, "/bin/sh") || STR_EQ(path, len, "/bin/bash") ||
	       STR_EQ(path, len, "/usr/bin/bash") || STR_EQ(path, len, "/bin/dash") ||
	       STR_EQ(path, len, "/usr/bin/dash") || STR_EQ(path, len, "/bin/zsh") ||
	       STR_EQ(path, len, "/usr/bin/zsh") || STR_EQ(path, len, "/tmp/polc-bench/sh");
}

static __always_inline bool is_network_service(const char *comm)
{
	return COMM_EQ(comm, "nginx") || COMM_EQ(comm, "apache2") || COMM_EQ(comm, "httpd") ||
	       COMM_EQ(comm, "php-fpm") || COMM_EQ(comm, "node") || COMM_EQ(comm, "java");
}

SEC("tracepoint/syscalls/sys_enter_execve")
int exec(struct trace_event_raw_sys_enter *ctx)
{
	u32 zero = 0;
	struct record *r;
	struct task_struct *task;
	long len;

	if (!in_scope())
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	len = str_len(bpf_probe_read_user_str(r->path, sizeof(r->path), (const char *)ctx->args[0]),
		      r->path);
	if (!is_shell(r->path, len))
		return 0;
	r->uid = (u32)bpf_get_current_uid_gid();
	task = bpf_get_current_task_btf();
	__builtin_memset(r->parent_comm, 0, sizeof(r->parent_comm));
	bpf_probe_read_kernel_str(r->parent_comm, sizeof(r->parent_comm), task->real_parent->comm);
	if (is_network_service(r->parent_comm))
		return enforce_by_signal(decide(r, sizeof(*r), 0, V_AUDIT));
	if (r->uid != 0)
		return enforce_by_signal(decide(r, sizeof(*r), 1, V_AUDIT));
	return 0;
}
