//! The init's own memory.

/// Drops this process's page mappings of the executable's read-only segments (ELF headers,
/// `.rodata`, `.eh_frame`, `.text`), keeping the pages in the page cache: whatever runs next
/// faults its pages back in (minor faults, no I/O while the page cache holds them).
///
/// For a long-lived PID 1 this turns "every 64 KiB window start-up touched" (with the kernel's
/// fault-around, about the whole static binary: argument parsing, std, glibc start-up, fork)
/// into "what the idle loop runs". The range is `[__executable_start, etext)`, which holds no
/// writable page (relocated data and `.bss` come after `etext`), so no modified page is lost:
/// `MADV_DONTNEED` on a clean private file mapping only removes page-table entries.
pub fn release_executable_pages() -> nix::Result<()> {
    unsafe extern "C" {
        // Defined by the GNU and LLVM linkers' default scripts for every executable.
        static __executable_start: u8;
        static etext: u8;
    }
    let start = (&raw const __executable_start) as usize;
    let end = (&raw const etext) as usize;
    // SAFETY: sysconf takes and returns integers.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let start = start & !(page - 1);
    if end <= start {
        return Err(nix::errno::Errno::EINVAL);
    }
    // SAFETY: the range lies inside this executable's own read-only and executable mappings,
    // which are clean private file mappings (see above); MADV_DONTNEED only unmaps their pages,
    // which the next access faults back in from the file with the same contents.
    let rc = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    nix::errno::Errno::result(rc).map(drop)
}
