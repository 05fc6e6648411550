/* C equivalent of bench/pol/exec_cmdline.pol on tp_btf/sched_process_exec
 * (the program polc's exec tp_btf backend runs, as for every policy that
 * reads the new program's command line): the command line contains
 * "stratum+tcp://".
 *
 * The command line is the new program's argument area (mm->arg_start ..
 * mm->arg_end), its first 511 bytes read at once. The literal has no space
 * and no NUL, so it is searched in the area as read (arguments separated by
 * NULs); only the reported command line has its NULs made spaces, as polc
 * reports it. */
#define N_RULES 1
#include "bench.h"

#define CMDLINE_MAX 512
#define NEEDLE "stratum+tcp://"
#define NEEDLE_LEN (sizeof(NEEDLE) - 1)

struct record {
	struct header h;
	char cmdline[CMDLINE_MAX];
};

SCRATCH_MAP(struct record);

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = task->mm;
	u32 zero = 0;
	struct record *r;
	u64 len;
	int i;

	if (!in_scope())
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	len = mm->arg_end - mm->arg_start;
	if (len > CMDLINE_MAX - 1)
		len = CMDLINE_MAX - 1;
	if (len == 0 || bpf_probe_read_user(r->cmdline, len, (void *)mm->arg_start))
		return 0;
	/* Without the last argument's NUL. */
	len -= r->cmdline[len - 1] == 0;
	r->cmdline[len & (CMDLINE_MAX - 1)] = 0;
	for (i = 0; i < CMDLINE_MAX - NEEDLE_LEN; i++) {
		if (i + NEEDLE_LEN > len)
			return 0;
		if (bytes_eq(&r->cmdline[i], NEEDLE, NEEDLE_LEN))
			goto matched;
	}
	return 0;
matched:
	for (i = 0; i < CMDLINE_MAX - 1; i++) {
		if (i >= len)
			break;
		if (r->cmdline[i] == 0)
			r->cmdline[i] = ' ';
	}
	return enforce_by_signal(decide(r, sizeof(*r), 0, V_AUDIT));
}
