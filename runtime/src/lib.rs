//! polrt: loads a polc object into the kernel, attaches, enforces and reports.
