//! Memory of a long-lived PID 1.

/// Drops this process's page mappings of the executable's read-only segments (ELF headers,
/// `.text`, `.rodata`, `.eh_frame`), keeping the pages in the page cache: whatever runs next
/// faults its pages back in (minor faults, no I/O while the page cache holds them).
///
/// For a long-lived PID 1 this turns "every 64 KiB window start-up touched" (with the kernel's
/// fault-around, about the whole static binary: argument parsing, std, libc start-up, fork)
/// into "what the idle loop runs". The segments are the executable's own program headers'
/// `PT_LOAD`s without `PF_W`: a writable segment (relocated data, RELRO, `.bss`) is never
/// touched, so no modified page is lost — `MADV_DONTNEED` on a clean private file mapping only
/// removes page-table entries. The program headers, not `[__executable_start, etext)`: with
/// `-z separate-code` (lld's and newer GNU ld's default, the musl release) `.rodata` and
/// `.eh_frame` are a read-only segment after `etext`, a quarter of a megabyte that stayed mapped.
pub fn release_executable_pages() -> nix::Result<()> {
    unsafe extern "C" {
        // Defined by the GNU and LLVM linkers' default scripts for every executable: the
        // address of its first loaded byte (its ELF header).
        static __executable_start: u8;
    }
    // SAFETY: getauxval reads the auxiliary vector the kernel passed; it takes and returns
    // integers (0 when the entry is absent).
    let (phdr, phnum) = unsafe {
        (
            libc::getauxval(libc::AT_PHDR) as usize,
            libc::getauxval(libc::AT_PHNUM) as usize,
        )
    };
    if phdr == 0 || phnum == 0 {
        return Err(nix::errno::Errno::ENOENT);
    }
    // SAFETY: AT_PHDR points at this executable's program header table, AT_PHNUM entries of
    // Elf64_Phdr, mapped read-only for the life of the process (it lies in the first segment).
    let headers = unsafe { std::slice::from_raw_parts(phdr as *const libc::Elf64_Phdr, phnum) };
    let loads = || headers.iter().filter(|h| h.p_type == libc::PT_LOAD);
    // The load bias (0 for a non-PIE executable): the first PT_LOAD starts at the ELF header.
    let first = loads()
        .map(|h| h.p_vaddr as usize)
        .min()
        .ok_or(nix::errno::Errno::ENOENT)?;
    let start = (&raw const __executable_start) as usize;
    let page = page_size();
    let bias = (start & !(page - 1)).wrapping_sub(first & !(page - 1));
    for h in loads().filter(|h| h.p_flags & libc::PF_W == 0) {
        let from = bias.wrapping_add(h.p_vaddr as usize) & !(page - 1);
        let to = bias.wrapping_add(h.p_vaddr as usize + h.p_memsz as usize);
        if to <= from {
            continue;
        }
        // SAFETY: the range is one of this executable's own read-only PT_LOAD segments, a
        // clean private file mapping (see above); MADV_DONTNEED only unmaps its pages, which
        // the next access faults back in from the file with the same contents. A partial last
        // page is rounded up by the kernel and belongs to the same read-only mapping.
        let rc =
            unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED) };
        nix::errno::Errno::result(rc)?;
    }
    Ok(())
}

fn page_size() -> usize {
    // SAFETY: sysconf takes and returns integers.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    /// The release runs in this test process too (a PIE, dynamically or statically linked):
    /// it succeeds, and the code and data it dropped work afterwards.
    #[test]
    fn releasing_the_read_only_segments_keeps_the_process_working() {
        static TABLE: [u32; 4] = [1, 2, 3, 5];
        super::release_executable_pages().expect("the executable's segments are found");
        let words: Vec<String> = TABLE.iter().map(|n| format!("{n}")).collect();
        assert_eq!(words.join(","), "1,2,3,5");
    }
}
