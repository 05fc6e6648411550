/* C equivalent of bench/pol/exec_ancestors.pol on
 * tp_btf/sched_process_exec (the program polc's exec tp_btf backend runs):
 * one of the first 8 ancestors of the task, following real_parent, is
 * named "sshd". The walk stops at the top of the process tree (the idle
 * task, pid 0) and at the first match. */
#define N_RULES 1
#include "bench.h"

#define MAX_ANCESTORS 8

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task;

	if (!in_scope())
		return 0;
	task = bpf_get_current_task_btf();
	for (int i = 0; i < MAX_ANCESTORS; i++) {
		task = task->real_parent;
		if (!task || task->pid == 0)
			break;
		if (COMM_EQ(task->comm, "sshd")) {
			struct header h = {};

			return enforce_by_signal(decide(&h, sizeof(h), 0, V_AUDIT));
		}
	}
	return 0;
}
