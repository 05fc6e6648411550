//! Every stable diagnostic code, with its documentation (what it means, why
//! it is a problem, an example that triggers it, how to fix it). The same text
//! feeds `polc explain CODE` and `docs/errors.md` ([`errors_markdown`]).
//!
//! Codes are blocked by stage: E01xx syntax, E02xx names and types, E03xx
//! hooks, rule, trace and test shape, E04xx cost and boundedness, W0xxx
//! warnings. A code is never reused for another meaning.
//!
//! Depends on nothing but `Severity`.

use std::fmt;

use super::Severity;

/// The documentation of one code.
#[derive(Copy, Clone, Debug)]
pub struct CodeDoc {
    pub code: Code,
    /// Short lower-case summary.
    pub title: &'static str,
    /// What the diagnostic means.
    pub what: &'static str,
    /// Why it is a problem.
    pub why: &'static str,
    /// A policy that triggers it.
    pub example: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

macro_rules! codes {
    ($(
        $code:ident ($severity:ident) $title:literal {
            what: $what:expr,
            why: $why:expr,
            example: $example:expr,
            fix: $fix:expr $(,)?
        }
    )*) => {
        /// A stable diagnostic code (`E0201`, `W0001`, ...).
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(
                #[doc = $title]
                $code,
            )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            /// The code as written (`E0201`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// Whether the code is an error or a warning.
            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$code => Severity::$severity,)*
                }
            }

            /// The code's documentation.
            pub fn doc(self) -> CodeDoc {
                match self {
                    $(Code::$code => CodeDoc {
                        code: Code::$code,
                        title: $title,
                        what: $what,
                        why: $why,
                        example: $example,
                        fix: $fix,
                    },)*
                }
            }
        }
    };
}

codes! {
    E0101 (Error) "unexpected token" {
        what: "The parser found a token where the grammar does not allow it. The \
               message names what was found and what could have come instead.",
        why: "The declaration cannot be understood; the parser skips to the next \
              clause or declaration and keeps going, so later errors are still reported.",
        example: "rule r {\n    on exec\n    when proc.uid == == 0\n    deny\n}\n",
        fix: "Write one of the expected tokens. Keywords (`list`, `rule`, `and`, `in`, \
              `allow`, ...) cannot be used as names.",
    }
    E0102 (Error) "unexpected end of file" {
        what: "The file ends in the middle of a declaration.",
        why: "The declaration is incomplete, typically a missing `}` or `]`.",
        example: "rule r {\n    on exec\n    deny\n",
        fix: "Complete the declaration; the message says what was expected.",
    }
    E0103 (Error) "invalid character" {
        what: "The source contains characters that start no token of the language.",
        why: "They cannot be part of any declaration; the lexer skips them.",
        example: "rule r {\n    on exec\n    when proc.uid == 0;\n    deny\n}\n",
        fix: "Remove them. Comments start with `#`; conditions use `and`, `or` and `not`, \
              not `&&`, `||` or `!`.",
    }
    E0104 (Error) "unterminated string" {
        what: "A string literal has no closing `\"` on its line.",
        why: "Strings cannot span lines; the rest of the line is taken as the string.",
        example: "rule r {\n    on exec\n    deny \"no closing quote\n}\n",
        fix: "Close the string with `\"`; write a quote inside a string as `\\\"`.",
    }
    E0105 (Error) "invalid escape in string" {
        what: "A backslash in a string is followed by something other than `\\\"`, `\\\\`, \
               `\\n`, `\\t` or `\\xNN` (two hex digits, 00 to 7f).",
        why: "Only these escapes are defined; guessing the meaning of others would \
              silently compare against the wrong bytes.",
        example: "rule r {\n    on file.open\n    when file.path == \"C:\\Users\"\n    deny\n}\n",
        fix: "Write a backslash as `\\\\`; write other characters directly (strings are UTF-8).",
    }
    E0106 (Error) "NUL byte in string" {
        what: "A string contains a NUL byte (`\\x00`).",
        why: "Kernel strings end at the first NUL, so a field can never contain one \
              and the comparison could never be what it looks like.",
        example: "rule r {\n    on exec\n    when exec.path == \"/bin/sh\\x00\"\n    deny\n}\n",
        fix: "Remove the NUL; `exec.path == \"/bin/sh\"` already compares the whole string.",
    }
    E0107 (Error) "nesting too deep" {
        what: "A condition nests parentheses and `not`s more deeply than the limit.",
        why: "Deep nesting is never needed and would make the compiler's recursion \
              unbounded; the rest of the file is not parsed.",
        example: "macro deep = ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((proc.uid == 0))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))\n",
        fix: "Flatten the condition: `and`/`or` chains need no parentheses, and \
              `not not A` is `A`.",
    }
    E0201 (Error) "unknown field" {
        what: "A condition, message placeholder, `emit` or test names a field that does \
               not exist.",
        why: "Only the fields listed in the language reference can be read in the kernel.",
        example: "rule r {\n    on exec\n    when proc.usr == 0\n    deny\n}\n",
        fix: "Use the field the help line suggests, or one from the reference \
              (`polc explain` lists none; see docs/language.md, \"Fields\").",
    }
    E0202 (Error) "unknown list" {
        what: "`in` (or `startswith`/`endswith`/`contains`) names a list that is not declared.",
        why: "The list's contents are unknown.",
        example: "rule r {\n    on exec\n    when exec.path in shell\n    deny\n}\n",
        fix: "Declare it with `list NAME = [...]`, fix the spelling, or write the list inline: \
              `exec.path in [\"/bin/sh\", \"/bin/bash\"]`.",
    }
    E0203 (Error) "unknown name" {
        what: "A condition uses a bare name that is neither a macro, a bool field, nor a constant.",
        why: "A bare name in a condition must be a macro or a bool field such as `file.write`.",
        example: "rule r {\n    on exec\n    when is_root\n    deny\n}\n",
        fix: "Declare the macro (`macro is_root = proc.uid == 0`) or fix the spelling.",
    }
    E0204 (Error) "duplicate name" {
        what: "Two lists or macros, two rules or traces, or two tests have the same name.",
        why: "Names identify lists and macros in conditions, rules and traces in events \
              and tests; each must mean one thing.",
        example: "list shells = [\"/bin/sh\"]\nlist shells = [\"/bin/bash\"]\n",
        fix: "Rename one of them, or merge the two declarations.",
    }
    E0205 (Error) "recursive macro" {
        what: "A macro uses itself, directly or through other macros.",
        why: "Macros are expanded in place; a cycle would never finish expanding.",
        example: "macro a = proc.uid == 0 or b\nmacro b = a\n",
        fix: "Break the cycle: write the shared part as its own macro that uses neither.",
    }
    E0206 (Error) "operator not defined for the field's type" {
        what: "The operator does not apply to the field's type: `<` on a string, \
               `startswith` on an integer, `in` on a bool, and so on.",
        why: "Each type has its own operators: ints `== != < <= > >= in`, strings \
              `== != startswith endswith contains in`, ips `== != in`, bools `== !=` \
              or the bare field.",
        example: "rule r {\n    on exec\n    when proc.comm < 5\n    deny\n}\n",
        fix: "Use an operator of the field's type; the help line lists them.",
    }
    E0207 (Error) "mismatched types" {
        what: "A literal's type differs from the field's: a string for an int field, \
               a number for a string field, a network where an address is expected, ...",
        why: "A field is only ever compared with values of its own type.",
        example: "rule r {\n    on exec\n    when proc.uid == \"root\"\n    deny\n}\n",
        fix: "Write a literal of the field's type (`proc.uid == 0`).",
    }
    E0208 (Error) "list of the wrong type" {
        what: "A list's elements are of another type than the field compared with it.",
        why: "`in` matches a field against values of its own type.",
        example: "list admins = [0, 1000]\nrule r {\n    on exec\n    when proc.comm in admins\n    deny\n}\n",
        fix: "Compare the list with a field of its type, or use a list of the field's type.",
    }
    E0209 (Error) "invalid integer literal" {
        what: "An integer literal is malformed (`12ab`, `0x`) or does not fit the field \
               (a negative number, or a number wider than the field).",
        why: "Fields are unsigned integers of a fixed width (u16, u32, u64); a literal \
              outside that range could never be equal and makes `<`/`>` meaningless.",
        example: "rule r {\n    on net.connect\n    when net.dport == 70000\n    deny\n}\n",
        fix: "Write a decimal, `0x` hex or `0o` octal number within the field's range \
              (the message gives it).",
    }
    E0210 (Error) "invalid IP address or network" {
        what: "An IP literal is malformed, its prefix is too long, or it has bits set \
               past the prefix (`10.0.0.1/8`).",
        why: "A network with host bits set is usually a typo for another network; \
              the kernel matches on the prefix only.",
        example: "list private = [10.0.0.1/8]\nrule r {\n    on net.connect\n    when net.daddr in private\n    deny\n}\n",
        fix: "Write the network address (`10.0.0.0/8`) or a plain address.",
    }
    E0211 (Error) "mixed-type list" {
        what: "A list mixes strings, integers and IP addresses.",
        why: "A list is matched against one field, which has one type.",
        example: "list things = [\"/bin/sh\", 0]\n",
        fix: "Split it into one list per type.",
    }
    E0212 (Error) "empty list" {
        what: "A list has no elements.",
        why: "`x in []` can never be true; an empty list is almost always a mistake.",
        example: "list shells = []\n",
        fix: "Add elements, or remove the list and the conditions that use it.",
    }
    E0213 (Error) "string longer than the field holds" {
        what: "A string literal is longer than the longest value the field can hold.",
        why: "The kernel copies at most that many bytes of the field: the comparison \
              would never match (or, for `startswith`, never as intended).",
        example: "rule r {\n    on exec\n    when proc.comm == \"my-very-long-daemon\"\n    deny\n}\n",
        fix: "`proc.comm` holds at most 15 bytes (the kernel truncates the command \
              name): compare with the truncated name, or use `proc.exe` or `exec.path`.",
    }
    E0214 (Error) "comparison between two fields" {
        what: "Both sides of a comparison are fields, and they are not both ints (`proc.uid \
               == proc.comm`, `exec.path == proc.exe`).",
        why: "Two int fields compare with each other (`proc.uid != file.uid`); strings, \
              addresses and bools compare with literals and lists only.",
        example: "rule r {\n    on exec\n    when proc.uid == proc.comm\n    deny\n}\n",
        fix: "Compare two int fields, or each field with a literal or a list.",
    }
    E0215 (Error) "comparison without a field" {
        what: "A comparison has no field on its left (or right) side, e.g. `1 == 1` \
               or `\"sh\" in shells`.",
        why: "Every comparison tests one field of the event.",
        example: "rule r {\n    on exec\n    when 0 == 0\n    deny\n}\n",
        fix: "Put a field on one side; `in`, `startswith`, `endswith` and `contains` need \
              it on the left.",
    }
    E0216 (Error) "not a list" {
        what: "The right side of `in` (or of a string operator taking a list) names a \
               macro or constant, not a list.",
        why: "Only lists and literals can be matched against.",
        example: "macro root = proc.uid == 0\nrule r {\n    on exec\n    when proc.uid in root\n    deny\n}\n",
        fix: "Name a list declared with `list`, or write the list inline.",
    }
    E0217 (Error) "not a condition" {
        what: "A part of a condition is a value, not a test: a list name, a literal, \
               a constant or a field that is not a bool.",
        why: "Only macros, bool fields and comparisons are true or false.",
        example: "rule r {\n    on exec\n    when proc.uid\n    deny\n}\n",
        fix: "Compare the value: `proc.uid == 0`, `exec.path in shells`.",
    }
    E0218 (Error) "invalid declaration name" {
        what: "A list, macro, rule or trace name contains a `.` or is a built-in constant.",
        why: "Dotted names are fields and `AF_INET`, `O_TRUNC`, ... are named constants; a \
              declaration with such a name could never be referred to unambiguously.",
        example: "macro proc.root = proc.uid == 0\n",
        fix: "Use a plain identifier such as `proc_root`.",
    }
    E0219 (Error) "macro expansion too large" {
        what: "Expanding the macros of a condition nests too deeply or produces too \
               many comparisons.",
        why: "Macros are expanded in place; a macro used twice in another that is used \
              twice, and so on, doubles the condition at each level.",
        example: "macro m0 = proc.uid == 0\nmacro m1 = m0 or m0\nmacro m2 = m1 or m1\nmacro m3 = m2 or m2\nmacro m4 = m3 or m3\nmacro m5 = m4 or m4\nmacro m6 = m5 or m5\nmacro m7 = m6 or m6\nmacro m8 = m7 or m7\nmacro m9 = m8 or m8\nmacro m10 = m9 or m9\nmacro m11 = m10 or m10\nmacro m12 = m11 or m11\nmacro m13 = m12 or m12\nmacro m14 = m13 or m13\nrule r {\n    on exec\n    when m14\n    deny\n}\n",
        fix: "Use lists instead of chains of `or`, and avoid repeating macros.",
    }
    // List files (`list NAME = file "PATH"`).
    E0250 (Error) "list file cannot be read" {
        what: "The file a `list NAME = file \"PATH\"` names is missing, unreadable, a \
               directory or not UTF-8 text.",
        why: "A list file's entries are checked and built into the policy; without \
              them the list has no meaning.",
        example: "list nets = file \"/nonexistent/polc-example/nets.txt\"\nrule r {\n    on net.connect\n    when net.daddr in nets\n    deny\n}\n",
        fix: "Correct the path (a relative path is read from the policy file's directory), \
              or create the file.",
    }
    E0251 (Error) "bad line in a list file" {
        what: "A line of a list file is not an entry of the list's type: not a valid \
               address, network or number, an unterminated quoted string, or an entry of \
               another type than the file's first entry. The message names the file, the \
               line and its text.",
        why: "Every entry is checked as an inline list's entry would be; one bad line \
              refuses the whole file.",
        example: "list nets = file \"/proc/self/mountinfo\"\nrule r {\n    on net.connect\n    when net.daddr in nets\n    deny\n}\n",
        fix: "Correct or remove the line (`#` starts a comment line); write a string that \
              starts with a digit, or reads as an IPv6 address, in double quotes.",
    }
    E0252 (Error) "empty list file" {
        what: "A list file has no entry (only blank lines and comments, or nothing).",
        why: "`x in []` can never be true; an empty list is almost always a mistake.",
        example: "list nets = file \"/dev/null\"\nrule r {\n    on net.connect\n    when net.daddr in nets\n    deny\n}\n",
        fix: "Add entries, or remove the list and the conditions that use it.",
    }
    E0253 (Error) "list file too large" {
        what: "A list file holds more than 1,048,576 entries or 64 MiB.",
        why: "The list becomes a kernel map sized at build time, and polrt reads it \
              again whenever it changes: both are bounded.",
        example: "list nets = file \"/dev/zero\"\nrule r {\n    on net.connect\n    when net.daddr in nets\n    deny\n}\n",
        fix: "Merge entries into wider networks or prefixes, or split the list.",
    }
    E0260 (Error) "invalid index" {
        what: "An index names no element of a field: a position past the field's bound \
               (`exec.args[16]`), a name where positions are written (`exec.args[\"x\"]`) \
               or the reverse (`exec.env[0]`), an invalid name, or an index on a field \
               that has one value (`proc.uid[0]`).",
        why: "Indexed fields read a fixed number of elements, each a fixed number of \
              bytes, so the kernel's work is bounded; an element past the bound is never read.",
        example: "rule r {\n    on exec\n    when exec.args[16] == \"-e\"\n    deny\n}\n",
        fix: "Use a position below the bound the help line gives, a quoted name for \
              `exec.env`, or `FIELD[*]` to test every element.",
    }
    E0261 (Error) "`[*]` where one value is needed" {
        what: "`FIELD[*]` (any element) is used in a message, an `emit` clause or a \
               test's event.",
        why: "`[*]` stands for every element at once: a test on it holds when it holds \
              for one of them, but it has no single value to show or to set.",
        example: "trace t {\n    on exec\n    emit exec.args[*]\n}\n",
        fix: "Name one element (`exec.args[1]`), or `exec.cmdline` for every argument.",
    }
    // Test events from a cgroup path.
    E0270 (Error) "test field conflicts with its cgroup" {
        what: "A test gives the task's cgroup (`cgroup = \"PATH\"`) and also a container \
               context field (`container.id`, `container.short_id`, `container.runtime`, \
               `proc.in_container`, `k8s.pod.uid`, `k8s.pod.qos`) with another value than the \
               cgroup's path gives it.",
        why: "The kernel decides these fields from the cgroup's name alone: no task has both \
              values, so the test would check an event that cannot happen.",
        example: "test \"t\" {\n    on exec with cgroup = \"/system.slice/sshd.service\", \
                  proc.in_container = true\n    expect allow\n}\n",
        fix: "Leave the field out (the cgroup decides it), or give no cgroup and set the fields.",
    }
    // User and group names (`proc.user == "root"`), allowed warnings.
    E0280 (Error) "not a user or group name" {
        what: "A string compared with a user or group name field (`proc.user`, \
               `proc.group`, ...) can be no name: empty, longer than 32 bytes, or with a \
               `:`, `,`, white space or a control character.",
        why: "The node's user and group databases (`/etc/passwd`, `/etc/group`) cannot \
              hold such a name: the test could never be resolved.",
        example: "rule r {\n    on exec\n    when proc.user == \"\"\n    deny\n}\n",
        fix: "Write the name as `/etc/passwd` or `/etc/group` has it.",
    }
    E0281 (Error) "user or group name where a value is needed" {
        what: "A user or group name field (`proc.user`, ...) is used in a message, an \
               `emit` clause or a test's event.",
        why: "A name field is not read by the kernel: a test on it compares the id field \
              with the id the node gives the name. Events carry the id, and polrt shows \
              the name the node gives it next to it.",
        example: "trace t {\n    on exec\n    emit proc.user\n}\n",
        fix: "Name the id field (`proc.uid` for `proc.user`); in a test's event give the \
              id (`with proc.uid = 1000`): `polc test --passwd FILE` resolves the \
              policy's names.",
    }
    E0282 (Error) "user or group names from a list file" {
        what: "`proc.user in LIST` (or another name field) names a list file.",
        why: "A list file changes while the policy runs, but the names a policy compares \
              with are resolved once, when polrt loads it.",
        example: "list admins = file \"/etc/shells\"\nrule r {\n    on exec\n    when proc.user in admins\n    deny\n}\n",
        fix: "Write the names in the policy, or the ids in the file (`proc.uid in admins`).",
    }
    E0283 (Error) "`allow` of a code that cannot be allowed" {
        what: "An `allow` declaration names a code that is not a warning that can be \
               allowed: an unknown code, an error, or a warning of another kind.",
        why: "Errors cannot be silenced; a warning is accepted, visibly, one policy at a \
              time, only where accepting it is a decision the policy can make.",
        example: "allow E0201\n",
        fix: "Remove the declaration, or name a warning `polc explain` lists as allowable \
              (`allow W0060`).",
    }
    // Bit tests, named constants, globs, field comparisons.
    E0290 (Error) "bit test without a bit" {
        what: "`has` or `has any` is given a mask of no bits: 0, or a constant whose value \
               is 0 (`O_RDONLY`, `PROT_NONE`), or an empty list.",
        why: "Every value has all the bits of 0 and none of them: the test would always \
              (`has`) or never (`has any`) hold. `O_RDONLY` in particular is not a bit: \
              it is the absence of `O_WRONLY` and `O_RDWR`.",
        example: "rule r {\n    on file.open\n    when file.flags has O_RDONLY\n    deny\n}\n",
        fix: "Test a bit that is there. For \"opened for reading\" (`O_RDONLY` or `O_RDWR`) \
              use the bool field `file.read`; for \"read-only\", `not file.write`.",
    }
    E0291 (Error) "glob pattern over its bounds" {
        what: "A `matches` pattern has more than 8 wildcards (`*`, `**`, `?`) or more than 2 \
               `**`, or the patterns of one test need an automaton of more than 1024 states.",
        why: "A program decides `matches` with one automaton over the string's bytes, with \
              no backtracking: its size, which the bounds keep small, is what the kernel \
              checks and runs.",
        example: "rule r {\n    on file.open\n    when file.path matches \"/*/*/*/*/*/*/*/*/*\"\n    deny\n}\n",
        fix: "Split the pattern into several tests, or use `startswith` and `endswith`.",
    }
    E0292 (Error) "base name with a `/`" {
        what: "A base name (`file.name`, `exec.name`, `proc.exe.name`, `file.newname`) is \
               compared with a string that has a `/`.",
        why: "The base name is what follows the last `/` of the path: it never has one, so \
              the test never holds.",
        example: "rule r {\n    on file.open\n    when file.name == \"ssh/id_rsa\"\n    deny\n}\n",
        fix: "Test the whole path (`file.path endswith \"/ssh/id_rsa\"`) or the directory \
              (`file.dir endswith ...`).",
    }
    E0301 (Error) "unknown hook" {
        what: "`on` names a hook that does not exist.",
        why: "Each hook is a kernel attach point the compiler knows how to program.",
        example: "rule r {\n    on execve\n    deny\n}\n",
        fix: "Use one of the hooks the help line lists.",
    }
    E0302 (Error) "field not available on this hook" {
        what: "A field is used on a hook whose events do not carry it, e.g. \
               `file.path` in a rule `on exec`.",
        why: "Each hook offers the `proc.*` fields and its own; the others have no \
              value at that point in the kernel.",
        example: "rule r {\n    on exec\n    when file.path == \"/etc/shadow\"\n    deny\n}\n",
        fix: "Use the hook the help line names, or a field of this hook.",
    }
    E0303 (Error) "`emit` in a rule" {
        what: "A `rule` has an `emit` clause.",
        why: "Rules decide and report with an action and a message; `emit` belongs to traces.",
        example: "rule r {\n    on exec\n    emit proc.pid\n    audit\n}\n",
        fix: "Write a `trace` to record fields, or put them in the rule's message: \
              `audit \"pid {proc.pid}\"`.",
    }
    E0304 (Error) "action in a trace" {
        what: "A `trace` has an action (`allow`, `audit`, `deny`, `kill`).",
        why: "Traces only observe; they never change a verdict.",
        example: "trace t {\n    on exec\n    deny\n    emit proc.pid\n}\n",
        fix: "Remove the action, or make it a `rule`.",
    }
    E0305 (Error) "trace without `emit`" {
        what: "A `trace` has no `emit` clause.",
        why: "A trace exists to record fields; without `emit` it records nothing.",
        example: "trace t {\n    on exec\n}\n",
        fix: "Add `emit FIELD, ...`.",
    }
    E0306 (Error) "rule without an action" {
        what: "A `rule` has no `allow`, `audit`, `deny` or `kill`.",
        why: "A rule exists to decide; without an action it decides nothing.",
        example: "rule r {\n    on exec\n    when proc.uid == 0\n}\n",
        fix: "Add an action, or make it a `trace` with `emit`.",
    }
    E0307 (Error) "missing `on`" {
        what: "A rule, trace or test does not say which hook it is on.",
        why: "The hook decides which fields exist and which kernel event runs the rule.",
        example: "rule r {\n    when proc.uid == 0\n    deny\n}\n",
        fix: "Start the body with `on HOOK`.",
    }
    E0308 (Error) "duplicate clause" {
        what: "A rule, trace or test has two clauses of the same kind (two `on`, two \
               `when`, two actions, two `emit`s, two `expect`s).",
        why: "Each may appear once; which one should win is unclear.",
        example: "rule r {\n    on exec\n    when proc.uid == 0\n    when proc.gid == 0\n    deny\n}\n",
        fix: "Merge them: `when A and B`, `emit a, b`.",
    }
    E0309 (Error) "malformed message placeholder" {
        what: "A message has an unclosed `{`, an empty `{}` or a lone `}`.",
        why: "Placeholders are `{field}`; literal braces are written `{{` and `}}`.",
        example: "rule r {\n    on exec\n    deny \"blocked {proc.comm\"\n}\n",
        fix: "Close the placeholder, or double the brace to write it literally.",
    }
    E0310 (Error) "field emitted twice" {
        what: "An `emit` clause names the same field more than once.",
        why: "Each field is captured once per event.",
        example: "trace t {\n    on exec\n    emit proc.pid, proc.pid\n}\n",
        fix: "Remove the repetition.",
    }
    E0311 (Error) "test names an unknown rule" {
        what: "`expect ACTION by NAME` names no rule on the test's hook.",
        why: "The test could never pass: only a rule on that hook can decide its event.",
        example: "rule r {\n    on exec\n    deny\n}\ntest \"t\" {\n    on exec\n    expect deny by rr\n}\n",
        fix: "Name a rule on the test's hook.",
    }
    E0312 (Error) "test expects another action than its rule's" {
        what: "`expect ACTION by RULE` where RULE's action is not ACTION.",
        why: "When RULE decides, the verdict is its action; the test could never pass.",
        example: "rule r {\n    on exec\n    audit\n}\ntest \"t\" {\n    on exec\n    expect deny by r\n}\n",
        fix: "Expect the rule's action, or name the rule that should decide.",
    }
    E0313 (Error) "test names an unknown trace" {
        what: "`expect traces` names something that is not a trace on the test's hook.",
        why: "Only traces on the hook can fire for its event.",
        example: "trace execs {\n    on exec\n    emit proc.pid\n}\ntest \"t\" {\n    on exec\n    expect allow\n    expect traces exec\n}\n",
        fix: "Name traces on the test's hook, or write `expect no traces`.",
    }
    E0314 (Error) "test without `expect`" {
        what: "A test does not say which action it expects.",
        why: "A test without an expectation checks nothing.",
        example: "test \"t\" {\n    on exec with proc.uid = 0\n}\n",
        fix: "Add `expect allow|audit|deny|kill [by RULE]`.",
    }
    E0315 (Error) "field given twice in a test" {
        what: "A test's `with` gives the same field two values.",
        why: "An event has one value per field.",
        example: "test \"t\" {\n    on exec with proc.uid = 0, proc.uid = 1\n    expect allow\n}\n",
        fix: "Remove one of them.",
    }
    E0316 (Error) "network in a test event" {
        what: "A test gives an ip field a network (`10.0.0.0/8`) instead of an address.",
        why: "An event carries one address.",
        example: "test \"t\" {\n    on net.connect with net.daddr = 10.0.0.0/8\n    expect allow\n}\n",
        fix: "Give one address, e.g. `10.1.2.3`.",
    }
    E0401 (Error) "policy over the cost budget" {
        what: "The rules and traces on one hook could make one of its programs execute more \
               instructions per event than the budget allows (250,000), measured on the \
               program polc emits (its longest path), or make a program larger than the \
               verifier can be sure to check (400,000 instructions). Every rule and trace on \
               a hook runs in one program, so the worst case is the sum of their tests; the \
               message points at the costliest test of the costliest rule on that path (or \
               the rule with the most instructions).",
        why: "polc promises that every policy it accepts has a bounded, small cost per \
              event and is accepted by the kernel verifier; a program this large would slow \
              every event on the hook and risk the verifier's own limit (1,000,000 \
              instructions processed).",
        example: "macro scratch = file.path contains \"/tmp/\" or file.path contains \"/dev/shm/\"\n\
                  macro scratch4 = scratch or scratch or scratch or scratch\n\
                  macro scratch16 = scratch4 or scratch4 or scratch4 or scratch4\n\
                  macro scratch64 = scratch16 or scratch16 or scratch16 or scratch16\n\
                  rule r1 { on file.open when scratch64 deny }\n",
        fix: "Test a field against many strings with one list (`contains [..]` and \
              `endswith [..]` scan the field once, whatever the list's size; `in LIST` of \
              more than 8 values is a map lookup), rather than many separate tests; each \
              `contains` test scans every byte the field can hold.",
    }
    E0402 (Error) "too many branches for the verifier" {
        what: "The rules and traces on one hook make a program whose conditional jumps the \
               kernel verifier cannot keep track of: it explores the fall-through of every \
               jump first and remembers the other side, and it refuses programs that need more \
               than 8192 remembered branches. polc counts, on the program it emits, the most \
               jumps one path falls through, and rejects more than 8000.",
        why: "The kernel would refuse to load the policy (\"the sequence of jumps is too \
              complex\"); polc rejects it first, at the rule with the most of them.",
        example: "macro tool = exec.path == \"/opt/vendor/application/bin/tool-a\"\n\
                  \x20   or exec.path == \"/opt/vendor/application/bin/tool-b\"\n\
                  macro tool8 = tool or tool or tool or tool or tool or tool or tool or tool\n\
                  macro tool64 = tool8 or tool8 or tool8 or tool8 or tool8 or tool8 or tool8 or tool8\n\
                  macro tool512 = tool64 or tool64 or tool64 or tool64 or tool64 or tool64 or tool64 or tool64\n\
                  macro tool4096 = tool512 or tool512 or tool512 or tool512 or tool512 or tool512 or tool512 or tool512\n\
                  rule r1 { on exec when tool4096 deny }\n",
        fix: "Merge rules that compare one field with many values into one rule with `in \
              LIST` (a list of more than 8 values is a single map lookup; `contains` and \
              `endswith` lists are one scan), or use fewer, broader rules.",
    }
    E0403 (Error) "too many maps for one program" {
        what: "The rules and traces on one hook test so many large lists that their program \
               would refer to more maps than the kernel lets one program use (64). Every list \
               of more than 8 values is a map (a hash, or an LPM trie for prefixes and \
               networks; addresses need one per IP family), and each program also uses a few \
               maps of its own (events, counters, configuration, scratch, the runtime's \
               exemption, the guarded objects; the features map, the identity map, the \
               automata map; the test context in the `polc test` program). polc counts the maps \
               each program it emits refers to.",
        why: "The kernel would refuse to load the program (\"the total number of maps per \
              program has reached the limit\"); polc rejects the policy first, at the first \
              list over the limit.",
        example: "rule u1 { on exec when proc.uid in [10, 11, 12, 13, 14, 15, 16, 17, 18] deny }\n\
                  rule u2 { on exec when proc.uid in [20, 21, 22, 23, 24, 25, 26, 27, 28] deny }\n\
                  rule u3 { on exec when proc.uid in [30, 31, 32, 33, 34, 35, 36, 37, 38] deny }\n\
                  rule u4 { on exec when proc.uid in [40, 41, 42, 43, 44, 45, 46, 47, 48] deny }\n\
                  rule u5 { on exec when proc.uid in [50, 51, 52, 53, 54, 55, 56, 57, 58] deny }\n\
                  rule u6 { on exec when proc.uid in [60, 61, 62, 63, 64, 65, 66, 67, 68] deny }\n\
                  rule u7 { on exec when proc.uid in [70, 71, 72, 73, 74, 75, 76, 77, 78] deny }\n\
                  rule u8 { on exec when proc.uid in [80, 81, 82, 83, 84, 85, 86, 87, 88] deny }\n\
                  rule u9 { on exec when proc.uid in [90, 91, 92, 93, 94, 95, 96, 97, 98] deny }\n\
                  rule u10 { on exec when proc.uid in [100, 101, 102, 103, 104, 105, 106, 107, 108] deny }\n\
                  rule u11 { on exec when proc.uid in [110, 111, 112, 113, 114, 115, 116, 117, 118] deny }\n\
                  rule u12 { on exec when proc.uid in [120, 121, 122, 123, 124, 125, 126, 127, 128] deny }\n\
                  rule u13 { on exec when proc.uid in [130, 131, 132, 133, 134, 135, 136, 137, 138] deny }\n\
                  rule u14 { on exec when proc.uid in [140, 141, 142, 143, 144, 145, 146, 147, 148] deny }\n\
                  rule u15 { on exec when proc.uid in [150, 151, 152, 153, 154, 155, 156, 157, 158] deny }\n\
                  rule u16 { on exec when proc.uid in [160, 161, 162, 163, 164, 165, 166, 167, 168] deny }\n\
                  rule u17 { on exec when proc.uid in [170, 171, 172, 173, 174, 175, 176, 177, 178] deny }\n\
                  rule u18 { on exec when proc.uid in [180, 181, 182, 183, 184, 185, 186, 187, 188] deny }\n\
                  rule u19 { on exec when proc.uid in [190, 191, 192, 193, 194, 195, 196, 197, 198] deny }\n\
                  rule u20 { on exec when proc.uid in [200, 201, 202, 203, 204, 205, 206, 207, 208] deny }\n\
                  rule u21 { on exec when proc.uid in [210, 211, 212, 213, 214, 215, 216, 217, 218] deny }\n\
                  rule u22 { on exec when proc.uid in [220, 221, 222, 223, 224, 225, 226, 227, 228] deny }\n\
                  rule u23 { on exec when proc.uid in [230, 231, 232, 233, 234, 235, 236, 237, 238] deny }\n\
                  rule u24 { on exec when proc.uid in [240, 241, 242, 243, 244, 245, 246, 247, 248] deny }\n\
                  rule u25 { on exec when proc.uid in [250, 251, 252, 253, 254, 255, 256, 257, 258] deny }\n\
                  rule u26 { on exec when proc.uid in [260, 261, 262, 263, 264, 265, 266, 267, 268] deny }\n\
                  rule u27 { on exec when proc.uid in [270, 271, 272, 273, 274, 275, 276, 277, 278] deny }\n\
                  rule u28 { on exec when proc.uid in [280, 281, 282, 283, 284, 285, 286, 287, 288] deny }\n\
                  rule u29 { on exec when proc.uid in [290, 291, 292, 293, 294, 295, 296, 297, 298] deny }\n\
                  rule u30 { on exec when proc.uid in [300, 301, 302, 303, 304, 305, 306, 307, 308] deny }\n\
                  rule u31 { on exec when proc.uid in [310, 311, 312, 313, 314, 315, 316, 317, 318] deny }\n\
                  rule u32 { on exec when proc.uid in [320, 321, 322, 323, 324, 325, 326, 327, 328] deny }\n\
                  rule u33 { on exec when proc.uid in [330, 331, 332, 333, 334, 335, 336, 337, 338] deny }\n\
                  rule u34 { on exec when proc.uid in [340, 341, 342, 343, 344, 345, 346, 347, 348] deny }\n\
                  rule u35 { on exec when proc.uid in [350, 351, 352, 353, 354, 355, 356, 357, 358] deny }\n\
                  rule u36 { on exec when proc.uid in [360, 361, 362, 363, 364, 365, 366, 367, 368] deny }\n\
                  rule u37 { on exec when proc.uid in [370, 371, 372, 373, 374, 375, 376, 377, 378] deny }\n\
                  rule u38 { on exec when proc.uid in [380, 381, 382, 383, 384, 385, 386, 387, 388] deny }\n\
                  rule u39 { on exec when proc.uid in [390, 391, 392, 393, 394, 395, 396, 397, 398] deny }\n\
                  rule u40 { on exec when proc.uid in [400, 401, 402, 403, 404, 405, 406, 407, 408] deny }\n\
                  rule u41 { on exec when proc.uid in [410, 411, 412, 413, 414, 415, 416, 417, 418] deny }\n\
                  rule u42 { on exec when proc.uid in [420, 421, 422, 423, 424, 425, 426, 427, 428] deny }\n\
                  rule u43 { on exec when proc.uid in [430, 431, 432, 433, 434, 435, 436, 437, 438] deny }\n\
                  rule u44 { on exec when proc.uid in [440, 441, 442, 443, 444, 445, 446, 447, 448] deny }\n\
                  rule u45 { on exec when proc.uid in [450, 451, 452, 453, 454, 455, 456, 457, 458] deny }\n\
                  rule u46 { on exec when proc.uid in [460, 461, 462, 463, 464, 465, 466, 467, 468] deny }\n\
                  rule u47 { on exec when proc.uid in [470, 471, 472, 473, 474, 475, 476, 477, 478] deny }\n\
                  rule u48 { on exec when proc.uid in [480, 481, 482, 483, 484, 485, 486, 487, 488] deny }\n\
                  rule u49 { on exec when proc.uid in [490, 491, 492, 493, 494, 495, 496, 497, 498] deny }\n\
                  rule u50 { on exec when proc.uid in [500, 501, 502, 503, 504, 505, 506, 507, 508] deny }\n\
                  rule u51 { on exec when proc.uid in [510, 511, 512, 513, 514, 515, 516, 517, 518] deny }\n\
                  rule u52 { on exec when proc.uid in [520, 521, 522, 523, 524, 525, 526, 527, 528] deny }\n\
                  rule u53 { on exec when proc.uid in [530, 531, 532, 533, 534, 535, 536, 537, 538] deny }\n\
                  rule u54 { on exec when proc.uid in [540, 541, 542, 543, 544, 545, 546, 547, 548] deny }\n\
                  rule u55 { on exec when proc.uid in [550, 551, 552, 553, 554, 555, 556, 557, 558] deny }\n\
                  rule u56 { on exec when proc.uid in [560, 561, 562, 563, 564, 565, 566, 567, 568] deny }\n\
                  rule u57 { on exec when proc.uid in [570, 571, 572, 573, 574, 575, 576, 577, 578] deny }\n\
                  rule u58 { on exec when proc.uid in [580, 581, 582, 583, 584, 585, 586, 587, 588] deny }\n\
                  rule u59 { on exec when proc.uid in [590, 591, 592, 593, 594, 595, 596, 597, 598] deny }\n\
                  rule u60 { on exec when proc.uid in [600, 601, 602, 603, 604, 605, 606, 607, 608] deny }\n",
        fix: "Merge lists compared with the same field into one list (`in` tests one map \
              lookup whatever the list's size), or move rules to another hook.",
    }
    E0404 (Error) "string automata too large" {
        what: "The `contains` tests and `endswith` lists of a policy compile to automata \
               whose tables, together, exceed 4 MiB. Each one has a state per distinct \
               prefix of its strings and an entry per state and distinct byte (the entries \
               a program may index are rounded up to a power of two); their tables fill one \
               map value, which the kernel limits to 4 MiB.",
        why: "The kernel would refuse to create the map; polc rejects the policy first, at \
              the test with the largest automaton.",
        example: "list tokens = [\n\
                  \x20   \"8¯!Ì9öà:xD¬;'ïòÂ9Ð#OðÝñQRFÉCp°gÖ-iyÓßW5/h:´¸µâKÔª>ÉXûn)Íu~ñc\",\n\
                  \x20   \"÷T³X¾`·ecÉqTÍ,F¡4½$Ã·?<Ë~Þ,ñôhÕnÙ·kîU¿&þ÷QÚ7æÕ9fµ:c@°B]K±ùTc\",\n\
                  \x20   \"ÀôW²3:9Dû°EÏÝ¶>¼Ë@Ø¿÷õóÀÂÎªWÎóÃ´j¤6º¤¥È=-´ß£Ë+HÝ-ûÅ%RqýÛÝ$5Ï\",\n\
                  \x20   \"Ý*F#b=é`x+AèÅµÆa#ù#Ç%½ýV[¾Ù«&fF×Ãûf7ö¸ÑÛ~¦´Âõÿ¶Ê¢°+°EºôPç¢¸t\",\n\
                  \x20   \"Jú°ßö¿KÅFÞæi8Åà9Z®Õg'IÃTlãII%`æÄBÉraI<êÖÒN¯gë%õ°WùÐrÐWÑ@þzÄ÷\",\n\
                  \x20   \"×µLîsÛnª³Ôg6FÕçrêuÀ]AªKí®<÷I:ýç¥ÊÕeÊ<ÄÚvWöe`lYì%KÆ§Uôì4>2øu¢\",\n\
                  \x20   \",:·©Ðéâ5«ð¡PÕººDÞ¤Xì%oAïit½bÅ9raM(Ö*ÒÖ´7z¥å$9;¨5ã¨ÁrÈ0¹Hb¬èd\",\n\
                  \x20   \"y§k=À¹áÐ)ñXr<ðJmîÆ¯ØuéÛ|PÆTM÷²T½A¸B4°¬4$]Âå±Â:qÆ'Þ½%ÿ¾ýü×Èå³\",\n\
                  \x20   \"*¿¼£%P¸xT×ýÄüÓüäEvÅF5hõ¼÷yODÀqÔ½qP8ÍÛåéCÖéQ;æWÕÅaÄþææÉo6:q¬é\",\n\
                  \x20   \"ÀJÓ©Îû|âãØ8`Y]t3Mtýû9Ù_ÄwûD@îÊ,MLgíþ¶A»èj¢¸Z9÷»g¡ü+FçVFyNb]%\",\n\
                  \x20   \"+¨ÊqÔNÚJYÌ@M.fªë4ùùGµY¹ñQ^+r¨C¬È:EZ×½/üM)ùÄz9¸)ÛT^°d9ubûV3È#\",\n\
                  \x20   \"ôîO¦Ðôß6¶Ak|×µÞNqq³!VóöÄ§ÏòuÁÓ_w;?òÿ¶jÊKBêÈÚè¹Jy$²bÄ¥¨ê¼±f?Ú\",\n\
                  \x20   \"ÆÞa«¶>NójúÑOn%,«äQé07z>¹¹û-Ú½æTéþkÛ(ÖØDÅ^¿ïç¬Û÷ßmg:-S+íöï¨3§\",\n\
                  \x20   \"£-ûZ/NÌ´%Sº^ÉaV@ùÖlÓlÂYêSaOQ³3CÇÑv°ÅÕã¾Êmèu·Ó?iD2zm&0ÒÀB²ëÎ¡\",\n\
                  \x20   \"<§JvãåQ¸ßF*?*Ð¥lÃoÕÜ!Y1óNÌ£½_C°^ÓMlF÷0~nó6=¦]åfjÁi.¯IxÿÌOæå§\",\n\
                  \x20   \"méäTu-¡#*@pOp^ÌþÈÝ¯~Döû¸»HZ¦^@Æn¬ñ^ÑÚO_þ÷|H¯Uvb´ìçæßÝcCãÇòûf\",\n\
                  \x20   \"¾X¿ðÏa*ê,ëürðøÈ»/vÛgÿ1ùUøo©b¦m<ìO¬àÌüvOïÙþò¼E#Í`=[Hº-ÌX#ÓÄE¹\",\n\
                  \x20   \"ÄùðÌ²6¬ÊC~¾yv°Ä)_cÓDªÌ7ÔQ=Ö¼opýöcëí´Z«ô9ä¹øöoGóGdêõýVWër¿4?1\",\n\
                  \x20   \".ñXÃXòj=Ï§5Ñ_Ö&ðªY£<ÕþIªªlQ¥È³ítnrVYÜ¡¥eÄÈqEgeCáÙÍ5NdÛ[WyH6J\",\n\
                  \x20   \"ÿçß¦Ð?~.KÀ»xÛúÊ½#r3iÓµsèØC·n'iú;ùßÒÕ°±óÊ¦HDÀUBýÄ÷7;ù4é*_ÅLDs\",\n\
                  \x20   \"¾öe;Áß´Î#[kÇI]:÷ä¡tKýc$h¯ÿ@Ü¾O¨NVý#hÓ~5KÆØG#RÀõ%ÈmîeÎh_n/J]4\",\n\
                  \x20   \"@lÍ+T.rÄ$Ê>¼írpè!à[ùmÊX5ÃyÛ¸K¹íR¢=i¾xåÊ0ªO¯sÂ³è¶]~iµ]ì¢àðPÕl\",\n\
                  \x20   \"%Ë86,01~ÎÌÇh³*Æ¾xã0.°*íÅÐØ¸ø~4Ý~ò>º<¼VáúôÔ#X¯§a¼ÍëÜÔUEI<rZðc\",\n\
                  \x20   \"Í4uMPywWTqµw#ãÙç¯Éàl]hÉãµÖ15°:)ò5zAXÃ2ù%ÓFÎi`ï|n©ç¸AUORÈOTÅã\",\n\
                  \x20   \"¬øI-Ï¬UMú$ÏöÊÌ°ælé@Am¾m4Ôo·×z°çÓùPÄ]õãóÅó@Ú$¢Å~·¹¼Ë¤ðç¹&ëß8ë\",\n\
                  \x20   \"xzä±MÖê+ÀðÒ¬ß4r¿?¨:¼Xì#ìõ%Õ:áákp'HäùaÉwÿ>¶[ß[>eð<>uýµïuË#1]¼\",\n\
                  \x20   \"axY;iLbµëê^HeÃS¼ùËr!æ?ÂÎÛssâb³DCÍÌ¨*o3$zätõodeÊBóþ×¼hÐ)·×0XD\",\n\
                  \x20   \"%Ì`KÜsÑ|S÷¥iÓF-OÍùäU6uÐ¾p¦ÛVÊlÈ«ÿ´ÿPÒO8*¿'EBµ¨Wã±xrÜ#yî&Ê^¹·\",\n\
                  \x20   \":Pú¨W¸ÜÝÿbòz!Ð»lôíBþÅïyn8ôó~¢WúÁæ_èUÑäG¤ÈßsÅVø)=23®æ¶uÅ®(¨Å®\",\n\
                  \x20   \"£8%ûèlK2'c?LSñòu¼¿ÔlÔç¤%yv$²mE+ßgÏ#éK=£ì¨F;ø¤VÄ·eéMå1ÜaÁÆît)\",\n\
                  \x20   \"LLúX~O£(+ÍÃ@+æH`kÆÞæÄÚB¸ÊÁÁX(îUl:v¹`1ð±ÀdIj|À³·¯ÆéÇYï×ZÏÿÇy7\",\n\
                  \x20   \"ÚeÖ¤îkÃ¥eTÚ<$/óð¿¦~]D¼'qúW¸#s+öç=½eÓüí¨|ò¸y¾E)]¥vG6ÇeRw§iÝtq\",\n\
                  \x20   \"aÖâÚ4%»y&$ÒlÈ9Ì>2¤+vQ.àMËçÁuüwñ¡2Eûµ9ìe@ñ~¬A0Ì!ÄôYFn¤ï.z±~æD\",\n\
                  \x20   \"[B9ÉOyÖÚ·à4±Ä(nî§æè·Òg2ô§ÑiåüYBµ>kh=x^þF¬j'Èt4*¸µòÊ|ª|hõ«wÁù\",\n\
                  \x20   \"tÖDú÷i|÷qNÁÜ'¸ÃÀÎ¾»fOú±aL×®ÚÄfæÝuk*vµÅ4I429CÊÞP_óa^¤zÔM¤-6rt\",\n\
                  \x20   \"üDØÍÉ&=Ï<ÒÀÖAí!êTÆGXAéÍáÀI-`ù<ªô'%fá)52Æ»<0ûkÆ0©Õ¦òÇÚÒî¿¶vÅK\",\n\
                  \x20   \"aEOü4s®^Âk¬äÇW¹HûyúÝ8L<°peò]·Ûsø¢ï6²ÜXÅcÄK2z,Mµü41vÚÇD¾Ê³(¯³\",\n\
                  \x20   \"érøÈíÀÇ`c÷.Eí.àJ1LO3Ý:Á¬?yà'[¥àHvïÙyüêt2|ë$ªHý6Dlf1éRçâFîUõÚ\",\n\
                  \x20   \"dÿBÏèß7¥GÙn¢ÞÛ÷5£vÀÙ=øÀæ<=íëÅëyû±ÐmòeqJá¨Áz4¦ËÄC¹¬çA´ãìMtÉø½\",\n\
                  \x20   \";¼ÆoØrt§JkÞ5±å¿´e5ûÇ!ìñg1÷¬~f*´,bòä'Â9>|wOECëÛÁ»jÏ¥E½ÄJmÑ2ún\",\n\
                  \x20   \"/µ±ú¸Î=ø¼|êÚ¿¿x`#Wý#ñèXÓ6]rà´É´wI¢Í£8ûò)Ê³YäÓ³-bzvèÕquþGWEÉá\",\n\
                  \x20   \"0Ã<g;ÌïêÕÝÿÌ[ÂÚ§Ç/º~Æ!3ÈÂÀ¢©ÅþNãY²0.®£&~F4Òo%¦qäZ8ï7«ðéS^hóm\",\n\
                  \x20   \"Rv,Y³÷Ùç]¸ÓD¦õÀâ°ÍûkïdXÓWö6k[ÚôÙC©údïjíA|ÇÂâ<²#uv£Û¤Å¾>à¹ÃoÒ\",\n\
                  \x20   \"à?EQ-þp8Þö.ÒM³ÜÉO¯I¯ÝM¥×ÒËEêJcéTm¥,~=8©*B^ý»K7GT)wÎ/¾8â^Ä±Þî\",\n\
                  \x20   \"UfÌüæéawíT'ÄR½)hpRøxZúoùb~@¿Tz¢_¶+¡P±¾¾Dù®´Y£Ì«c/Ý¼L¿^z«ÆAM8\",\n\
                  \x20   \"Eª|_õAD¡¡ÖöLÛ±ø¯Wîl)°A_¼qLÙ`<ÿ¡²ÄÚ¢ýÑüxûOW=L%hÈeZPBõ²§GÊÂpßå\",\n\
                  \x20   \"íT®£ìùá~¿K¸àpòZ*ËñVÕ¥¨<««EMÀÔùyþç»=Î$ÏáuÆÉ&Mer$yÕÇªpFaÍ2âe°Ï\",\n\
                  \x20   \"¥ßrõÓºÎîÅBÊðÎKd+iîey±â¸a7ætPa?|ÏvãëQ©+½rß=./ÞcXqÅ@Û±øóè.`&³K\",\n\
                  \x20   \"10>xÿ§ÀuçlkvyV«ÖÄ¬b¹VÆfòùIDÔOHp!OÍ_¥ª6_«îV*W4<zbcõ¦Õq¶÷ÁzÎu·\",\n\
                  \x20   \"GÏãµÜ½Ñ;2ü_ÏXk0ýC?êabìÂäjë^æ1åÙ®ãÈ¤J,û°S9ä¬åÍ¡<i1§K¨åmàÎ:5fÂ\",\n\
                  \x20   \"VÞò#JÖsaEzòËXì§^-qxïÜx¬=ñþ@ÀY£Ë¼?r±¶Ê_§_P¥DxT]Â].g>ÈqVpÖ?Øcä\",\n\
                  \x20   \"FÈLæDº;µJO÷9±Ýíhzû+ðSôä«)kæGÑ¹BYÎl$SqUfâ<MQçê~[ÉúYØ¹ðTXiÉÂgì\",\n\
                  \x20   \"ê0¼Ûè`8ÁîÁ©Y+dó¶6·CÕ®5âECQ`ÁSºÏFÞBÉ!'G'>X¶)ÄûÓM×Ü¨ÚßCªfó-ì·ã\",\n\
                  \x20   \"D'¸º»)y'lÆN!NjëÝËsîägM©´eÎ8ÝÅ=qÉ°5W»xùU(ï¿J¿ÎÎîìcaz%3Gm/Üeïà\",\n\
                  \x20   \"m^ªf#þÊèuv[KKºvÃ¦Ú¨'¡îùèÚTþÂWo¥Ç0¸ÙM$Û4Ì4®ïnäêÚÖAébÆÇ¸ÇLUo?Ï\",\n\
                  \x20   \"e+øä7ð3¿bÔÞK9»:õBóðIâðsV©ão£E@këvÀF´«¡£<ñt¦x¥AÁÿÕEIéb|EEd®ÀK\",\n\
                  \x20   \"YÚ5þ³Æºõ<'ga$;¸Y²=åÙÚà¤Ú·ë»9ñN^ÖßDQòüXWNÄð¤¸æpÕy»ãYCYxäà/a·¯\",\n\
                  \x20   \"´.Ï5¡!Ö],nQÑÔôW^yÅmaàÔ¸0äÙøªO¡¦ªà¾þ`¥®#_,8´4hXAîÅ&Â^geûÃòp¢W\",\n\
                  \x20   \"F«Õ¼2¨»q¶NÈ¶¨àV9îñÛW|¢dyK'-s¼êJ³W¢ë£ôJèôÜ~-°Åá-ñùâ«ýÒ¡Þ«JÙÛr\",\n\
                  \x20   \"»ðEQ_QÓzû8I.AÓ0Ûbªéfõ$Ë×5¸Q¤uH÷hnñaJ!Å`KhÚ;*èò`Ê°J[²ÿ=p¯Qmlè\",\n\
                  ]\n\
                  rule r { on file.open when file.path contains tokens deny }\n",
        fix: "Test fewer or shorter strings with `contains`, or match whole paths or their \
              starts with `in` and `startswith` lists (maps whose size is not limited this \
              way).",
    }
    W0001 (Warning) "unused list" {
        what: "A list is declared but no condition or macro uses it.",
        why: "It is probably a leftover, or a rule meant to use it does not.",
        example: "list shells = [\"/bin/sh\"]\n",
        fix: "Use it or remove it.",
    }
    W0002 (Warning) "unused macro" {
        what: "A macro is declared but no rule, trace or other macro uses it.",
        why: "It is probably a leftover, or a rule meant to use it does not.",
        example: "macro root = proc.uid == 0\n",
        fix: "Use it or remove it.",
    }
    W0003 (Warning) "rule can never match" {
        what: "An earlier rule on the same hook matches every event this rule matches: \
               it has no `when`, the same condition, or a subset of this rule's `and` terms.",
        why: "Per hook, the first matching rule decides; this rule is never reached.",
        example: "rule all {\n    on exec\n    audit\n}\nrule root {\n    on exec\n    when proc.uid == 0\n    deny\n}\n",
        fix: "Move the more specific rule first, or remove it.",
    }
    W0004 (Warning) "message on an `allow` rule" {
        what: "An `allow` rule has a message.",
        why: "`allow` produces no event, so the message is never shown.",
        example: "rule r {\n    on exec\n    when proc.uid == 0\n    allow \"root may\"\n}\n",
        fix: "Remove the message, or use `audit` to allow and report.",
    }
    W0005 (Warning) "condition that can never hold" {
        what: "Two `and` terms of a rule's or trace's condition contradict each other: one \
               int field in disjoint ranges (`proc.uid == 0 and proc.uid == 1`), one ip field \
               in disjoint networks or in an IPv4 and an IPv6 one, `net.family` of one family \
               with an address of the other, one string field equal to two strings, a bool \
               field both true and false.",
        why: "The rule never matches: whatever it was meant to catch goes through, silently.",
        example: "rule r {\n    on net.connect\n    when net.family == AF_INET and net.daddr in fc00::/7\n    deny\n}\n",
        fix: "Fix the values, or join the terms with `or` if either should do.",
    }
    W0006 (Warning) "pattern characters compared with `==`" {
        what: "A string compared with `==`, `!=` or `in` contains `*` or `?`, as a glob pattern \
               would.",
        why: "`==` compares the exact bytes: `file.path == \"/tmp/*\"` matches only a file \
              literally named `*`.",
        example: "rule r {\n    on exec\n    when exec.path == \"/tmp/*\"\n    deny\n}\n",
        fix: "Use `startswith`, `endswith` or `contains` (the help line gives the one that fits).",
    }
    W0007 (Warning) "duplicate list entry" {
        what: "A list holds the same value twice.",
        why: "The repetition does nothing; it is often a typo for another value.",
        example: "list shells = [\"/bin/sh\", \"/bin/bash\", \"/bin/sh\"]\nrule r {\n    on exec\n    when exec.path in shells\n    audit\n}\n",
        fix: "Remove the repetition, or correct the value that was meant.",
    }
    W0008 (Warning) "exemption by command name alone" {
        what: "A `deny` or `kill` rule exempts processes by `proc.comm` alone (`not proc.comm \
               in [...]`, `proc.comm != \"...\"`).",
        why: "Any process can choose its command name (rename or copy a binary, `prctl`, \
              `exec -a`): the exemption is open to every program that calls itself so.",
        example: "rule shadow {\n    on file.open\n    when file.path == \"/etc/shadow\" and not proc.comm in [\"passwd\"]\n    deny\n}\n",
        fix: "Exempt by the executable the kernel resolved: `not proc.exe in [\"/usr/bin/passwd\"]`.",
    }
    W0060 (Warning) "hook runs on a weaker backend" {
        what: "A rule reads a field that one backend of its hook cannot read: the rules on \
               the hook run on the next backend instead, for the whole policy. On `exec`, \
               the new program's arguments and environment (`exec.args[N]`, `exec.argc`, \
               `exec.cmdline`, `exec.env[\"NAME\"]`, and `proc.cmdline`, which is the new \
               program's on `exec`) do not exist yet where the LSM hook \
               runs; they are read at the exec's point of no return, where `deny` is a \
               SIGKILL before the new program runs an instruction.",
        why: "Reading them where the LSM hook runs would mean reading the caller's memory, \
              which it can change after the kernel copied it: a rule would decide on what \
              the caller claims.",
        example: "rule r {\n    on exec\n    when exec.args[1] == \"-e\"\n    deny\n}\n",
        fix: "If a kill at the point of no return is enough, accept it for the policy: \
              `allow W0060 \"why\"` (then `-D warnings` passes); otherwise decide on \
              `exec.path` and `exec.filename`, which the LSM backend reads.",
    }
    // Container context.
    W0070 (Warning) "container value the kernel never reports" {
        what: "A container context field (`container.id`, `container.short_id`, \
               `container.runtime`, `k8s.pod.uid`, `k8s.pod.qos`) is compared with `==`, `!=` \
               or `in` to a string it never holds: an id that is neither 64 lowercase hex \
               digits (12 for `container.short_id`) nor a systemd-nspawn or LXC container's \
               name (at most 64 bytes, 12 for `container.short_id`, no `/`; a name of exactly \
               12 hex digits is taken for docker's short id), a runtime or QoS class that is \
               not one of the names the kernel reports, a uid that is not a lowercase uid.",
        why: "The test never holds (or always does, with `!=`): a 12-digit id, as `docker ps` \
              and Falco show it, never equals the 64-digit `container.id`.",
        example: "rule r {\n    on exec\n    when container.id == \"4c01db0b339c\"\n    deny\n}\n",
        fix: "Write the value as the kernel reports it, or compare the short id with \
              `container.short_id`.",
    }
    // Bit tests, named constants, globs, field comparisons.
    W0075 (Warning) "constant of another field" {
        what: "A named constant is compared with (or tested as bits of) a field it does not \
               describe: an open flag against `mmap.prot`, a signal against `proc.uid`.",
        why: "The constant's number means something else in that field: `mmap.prot has \
              O_TRUNC` tests bit 9 of the protection, which never exists.",
        example: "rule r {\n    on file.mmap\n    when mmap.prot has O_TRUNC\n    deny\n}\n",
        fix: "Use the constants of the field (`PROT_EXEC` for `mmap.prot`), or the field the \
              constant is for (`file.flags has O_TRUNC` on `file.open`).",
    }
    W0076 (Warning) "bit test of a value" {
        what: "`has` or `has any` is given a constant that is a value, not a bit: a signal \
               number, a socket type, a protocol, an address family.",
        why: "These fields hold one number, not a set of bits: `socket.type has SOCK_DGRAM` \
              also holds for `SOCK_RAW` (3 has bit 2).",
        example: "rule r {\n    on socket.create\n    when socket.type has SOCK_DGRAM\n    deny\n}\n",
        fix: "Compare the value: `socket.type == SOCK_DGRAM`, or `in [..]` for several.",
    }
    W0085 (Warning) "`allow` of a warning the policy does not get" {
        what: "An `allow CODE` declaration names a warning that the policy does not get \
               (any more).",
        why: "`allow` is an acknowledgement of what the policy does: one that is no \
              longer true hides the warning when it comes back for another reason.",
        example: "allow W0060\nrule r {\n    on exec\n    when exec.path == \"/bin/sh\"\n    deny\n}\n",
        fix: "Remove the declaration.",
    }
}

impl Code {
    /// Looks a code up by its name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|code| code.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CodeDoc {
    /// The documentation as Markdown, headed at `level` (`##`, `###`, ...).
    pub fn to_markdown(&self, level: usize) -> String {
        let hashes = "#".repeat(level);
        format!(
            "{hashes} {code}: {title}\n\n{what}\n\n**Why:** {why}\n\n**Example:**\n\n```pol\n{example}```\n\n**Fix:** {fix}\n",
            code = self.code.as_str(),
            title = self.title,
            what = self.what,
            why = self.why,
            example = self.example,
            fix = self.fix,
        )
    }
}

/// The whole of `docs/errors.md`, generated from the code docs.
pub fn errors_markdown() -> String {
    let mut out = String::from(
        "# Diagnostics\n\n\
         <!-- Generated from compiler/src/diag/codes.rs: do not edit by hand. \
         Regenerate with `POLC_BLESS=1 cargo test -p polc-tests --test docs`. -->\n\n\
         Every error and warning `polc check` reports has a stable code. \
         `polc explain CODE` prints the same text as this page.\n\n\
         | block | stage |\n|---|---|\n\
         | E01xx | syntax |\n\
         | E02xx | names and types |\n\
         | E03xx | hooks; rule, trace and test shape |\n\
         | E04xx | cost and boundedness |\n\
         | W0xxx | warnings (the policy is accepted) |\n\n",
    );
    for code in Code::ALL {
        out.push_str(&code.doc().to_markdown(2));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_and_blocked_by_severity() {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        for code in Code::ALL {
            let is_warning = code.as_str().starts_with('W');
            assert_eq!(is_warning, code.severity() == Severity::Warning, "{code}");
            assert_eq!(Code::from_name(&code.as_str().to_lowercase()), Some(*code));
        }
    }

    #[test]
    fn every_doc_is_complete() {
        for code in Code::ALL {
            let doc = code.doc();
            for (part, text) in [
                ("title", doc.title),
                ("what", doc.what),
                ("why", doc.why),
                ("example", doc.example),
                ("fix", doc.fix),
            ] {
                assert!(!text.trim().is_empty(), "{code}: empty {part}");
            }
            assert!(
                doc.example.ends_with('\n'),
                "{code}: example must end with a newline"
            );
            let first_word = doc.title.split(' ').next().unwrap_or("");
            assert!(
                first_word == first_word.to_lowercase() || first_word == first_word.to_uppercase(),
                "{code}: title is lower-case (acronyms aside)"
            );
        }
    }
}
