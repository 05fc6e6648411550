/* C equivalent of bench/pol/exec_args.pol on tp_btf/sched_process_exec (the
 * program polc's exec tp_btf backend runs, as for every policy that reads
 * the new program's arguments): an argument of the new program is "-e".
 *
 * The arguments are read where polc reads them, from the new program's
 * stack as the kernel wrote it (mm->start_stack: argc, then the argv
 * pointers): argc and the first 16 pointers in one read, then each
 * argument, at most 127 bytes, with bpf_probe_read_user_str. */
#define N_RULES 1
#include "bench.h"

#define MAX_ARGS 16
#define ARG_LEN 128

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	u64 words[1 + MAX_ARGS];
	char arg[ARG_LEN];
	u64 argc;

	if (!in_scope())
		return 0;
	if (bpf_probe_read_user(words, sizeof(words), (void *)task->mm->start_stack))
		return 0;
	argc = words[0];
	for (int i = 0; i < MAX_ARGS; i++) {
		long len;

		if (i >= argc)
			break;
		len = str_len(bpf_probe_read_user_str(arg, sizeof(arg), (void *)words[1 + i]), arg);
		if (STR_EQ(arg, len, "-e")) {
			struct header h = {};

			return enforce_by_signal(decide(&h, sizeof(h), 0, V_AUDIT));
		}
	}
	return 0;
}
