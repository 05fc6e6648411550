/* C equivalent of bench/pol/exec_container.pol on tp_btf/sched_process_exec
 * (the program polc's exec tp_btf backend runs): the task's container id is
 * the one watched.
 *
 * The id is found as polc finds it (compiler/src/container.rs): from the
 * names of the task's cgroup v2 directory and its ancestors, at most
 * MAX_LEVELS of them with the root; a container is a name of one of the
 * runtimes' shapes (docker-<id>.scope, cri-containerd-<id>.scope,
 * crio-<id>[.scope], libpod-[payload-]<id>[.scope]) or a bare <id> whose
 * parent is docker, default or a cgroupfs pod (pod<uid>); the outermost
 * wins; the id must be 64 lowercase hex digits; a deeper cgroup is the
 * "unknown" container (never the watched one). Each name is read once
 * into a per-CPU buffer; shapes are tested by length first. */
#define N_RULES 1
#include "bench.h"

#define MAX_LEVELS 16
#define NAME_BUF 128
#define ID_LEN 64
#define WATCHED "4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e"

struct walk {
	char name[NAME_BUF];
	char id[ID_LEN];
	char bare[ID_LEN];
};

SCRATCH_MAP(struct walk);

/* The parent pointer's name before 6.15. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node, __parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

#define LIT_LEN(lit) (sizeof(lit) - 1)
#define NAME_IS(w, len, lit) ((len) == LIT_LEN(lit) && bytes_eq((w)->name, lit, LIT_LEN(lit)))
/* A container name prefix<id>suffix: the id copied out. */
#define SHAPE(w, len, prefix, suffix)                                                      \
	((len) == LIT_LEN(prefix) + ID_LEN + LIT_LEN(suffix) &&                             \
	 bytes_eq((w)->name, prefix, LIT_LEN(prefix)) &&                                    \
	 bytes_eq((w)->name + LIT_LEN(prefix) + ID_LEN, suffix, LIT_LEN(suffix)) &&         \
	 (__builtin_memcpy((w)->id, (w)->name + LIT_LEN(prefix), ID_LEN), 1))

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct kernfs_node *kn;
	bool found = false, bare_pending = false;
	u32 zero = 0;
	struct walk *w;

	if (!in_scope())
		return 0;
	w = bpf_map_lookup_elem(&scratch, &zero);
	if (!w)
		return 0;
	kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	for (int level = 0; level < MAX_LEVELS && kn; level++) {
		long len = bpf_probe_read_kernel_str(w->name, NAME_BUF, BPF_CORE_READ(kn, name)) - 1;

		if (len < 0)
			return 0; /* unreadable: the unknown container */
		if (bare_pending) {
			bare_pending = false;
			if (NAME_IS(w, len, "docker") || NAME_IS(w, len, "default") ||
			    (len == LIT_LEN("pod") + 36 && bytes_eq(w->name, "pod", 3))) {
				__builtin_memcpy(w->id, w->bare, ID_LEN);
				found = true;
			}
		}
		if (SHAPE(w, len, "docker-", ".scope") ||
		    SHAPE(w, len, "cri-containerd-", ".scope") || SHAPE(w, len, "crio-", ".scope") ||
		    SHAPE(w, len, "crio-", "") || SHAPE(w, len, "libpod-", ".scope") ||
		    SHAPE(w, len, "libpod-", "") || SHAPE(w, len, "libpod-payload-", ".scope") ||
		    SHAPE(w, len, "libpod-payload-", "")) {
			found = true;
		} else if (len == ID_LEN) {
			__builtin_memcpy(w->bare, w->name, ID_LEN);
			bare_pending = true;
		}
		kn = kn_parent(kn);
	}
	if (kn || !found)
		return 0; /* deeper than the walk (unknown), or no container */
	for (int i = 0; i < ID_LEN; i++) {
		char c = w->id[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	if (bytes_eq(w->id, WATCHED, ID_LEN)) {
		struct header h = {};

		return enforce_by_signal(decide(&h, sizeof(h), 0, V_AUDIT));
	}
	return 0;
}
