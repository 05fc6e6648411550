/* C equivalent of bench/pol/exec_small.pol on tp_btf/sched_process_exec
 * (the program polc's exec tp_btf backend runs): the new program's path as
 * the kernel resolved it (bprm->file), its uid and its parent's comm. */
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

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
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
	len = str_len(resolve_path(bprm->file, r->path) + 1, r->path);
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
