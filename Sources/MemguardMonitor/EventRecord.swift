import CMemguardABI
import Glibc
import MemguardCore
import MemguardProbes

/// Turns a kernel event into the container's log line.
public struct EventRecord {
    /// Executable paths by (pid, inode), so a burst from one process costs one readlink.
    private var exeCache: [UInt64: String] = [:]

    public init() {}

    public mutating func line(for event: mg_event, container: ContainerID) -> JSONLine {
        line(for: event, container: container, exe: exePath(event))
    }

    public func line(for event: mg_event, container: ContainerID, exe: String) -> JSONLine {
        let kind = EventKind(rawValue: event.kind)
        var line = EventLog.record(container, event: kind?.name ?? "unknown-\(event.kind)",
                                   time: Clock.realtime(fromBoottime: event.time_ns))
        line.add("severity", kind?.severity ?? "high")
        line.add("pid", event.pid)
        line.add("tid", event.tid)
        line.add("ns_pid", event.ns_pid)
        line.add("ns_tid", event.ns_tid)
        line.add("uid", event.uid)
        line.add("comm", Self.text(event.comm))
        line.add("exe", exe)
        line.add("exe_inode", event.exe_ino)
        line.add("exe_dev", Self.device(event.exe_dev))
        line.add("details", object: details(event, kind: kind))
        line.add("action", EventAction(rawValue: event.action)?.name ?? "unknown")
        return line
    }

    private func details(_ event: mg_event, kind: EventKind?) -> JSONLine {
        var d = JSONLine()
        d.add("syscall", Self.syscallName(event.syscall_nr))
        switch kind {
        case .wxMmap:
            d.add("addr", Self.hex(event.addr))
            d.add("len", event.len)
            d.add("prot", Self.prot(event.prot))
            d.add("flags", Self.hex(UInt64(event.flags)))
            Self.addImpliedExec(&d, event)
        case .execWritable where event.syscall_nr & ~MG_SYSCALL_COMPAT == 9:
            // mmap with PROT_EXEC of a memfd, or of a file someone holds open for writing
            d.add("addr", Self.hex(event.addr))
            d.add("len", event.len)
            d.add("prot", Self.prot(event.prot))
            d.add("memory", Self.memory(event.vma) ?? "memfd")
        case .wxMprotect, .execWritable, .codePatch:
            d.add("addr", Self.hex(event.addr))
            d.add("len", event.len)
            d.add("prot", Self.prot(event.prot))
            Self.addImpliedExec(&d, event)
            let vma = event.vma
            if let memory = Self.memory(vma) {
                d.add("old_prot", Self.prot(event.old_prot))
                d.add("memory", memory)
            } else {
                d.add("old_prot", vma == MG_VMA_UNKNOWN.rawValue ? "unknown" : "not-looked-up")
            }
        case .execMemfd, .execDeleted:
            d.add("file", Self.text(event.path))
        case .ptrace:
            d.add("request", Self.ptraceRequest(event.flags))
            d.add("target_pid", event.target_pid)
            d.add("addr", Self.hex(event.addr))
        case .vmWritev:
            d.add("target_pid", event.target_pid)
            d.add("iovecs", event.len)
        case .procMem:
            d.add("path", "/proc/\(Self.text(event.path))/mem")
            d.add("target_pid", event.target_pid)
            d.add("flags", Self.hex(UInt64(event.flags)))
        case .heapSpray:
            d.add("anonymous_maps", event.flags)
            d.add("anonymous_bytes", event.len)
            d.add("window_ms", event.addr / 1_000_000)
        case nil:
            break
        }
        return d
    }

    /// The executable's path as the container sees it (cached per process and file).
    public mutating func exePath(_ event: mg_event) -> String {
        let key = UInt64(event.pid) << 32 ^ event.exe_ino
        if let cached = exeCache[key] { return cached }
        // The process may be gone (killed in enforce mode, or just quick) or have exec'd since:
        // then the path the kernel read from the executable's dentries.
        let link = FileSystem.readLink("/proc/\(event.pid)/exe")
        let sameFile = (try? FileSystem.inode(of: "/proc/\(event.pid)/exe").ino) == event.exe_ino
        let path = sameFile ? Self.usable(link, name: Self.text(event.exe_name)) ?? Self.kernelPath(event) : Self.kernelPath(event)
        if exeCache.count > 4096 { exeCache.removeAll() }
        exeCache[key] = path
        return path
    }

    /// What backs the memory an event is about, when the probes looked it up.
    static func memory(_ vma: UInt32) -> String? {
        switch vma {
        case MG_VMA_ANON.rawValue: "anonymous"
        case MG_VMA_FILE.rawValue: "file"
        case MG_VMA_MEMFD.rawValue: "memfd"
        case MG_VMA_WRITABLE_FILE.rawValue: "file-open-for-writing"
        default: nil
        }
    }

    /// The link, unless it does not name the file: an executable on a mount the monitor's
    /// namespace cannot see (runc's init runs a private bind mount of runc) reads as "/".
    static func usable(_ link: String?, name: String) -> String? {
        guard let link, !name.isEmpty else { return link }
        // The kernel's copy of the name is cut at 63 bytes; a deleted file reads "NAME (deleted)".
        let last = link.split(separator: "/").last.map(String.init) ?? ""
        return last.hasPrefix(name) ? link : nil
    }

    /// With the READ_IMPLIES_EXEC personality the kernel makes readable memory executable:
    /// say what the caller asked for, so "rwx" for an "rw-" request is not a mystery.
    static func addImpliedExec(_ d: inout JSONLine, _ event: mg_event) {
        guard event.asked_prot != event.prot else { return }
        d.add("asked_prot", prot(event.asked_prot))
        d.add("read_implies_exec", event.personality & 0x0400000 != 0)
    }

    /// The executable's path from its dentries, relative to the root of its filesystem (the
    /// container's root for its own files); "…/" marks a path deeper than the probes walk.
    static func kernelPath(_ event: mg_event) -> String {
        let name = text(event.exe_name)
        guard !name.isEmpty else { return "" }
        let count = Int(event.exe_parents_n & ~MG_EXE_ROOT_REACHED)
        let complete = event.exe_parents_n & MG_EXE_ROOT_REACHED != 0
        let parents: [String] = withUnsafeBytes(of: event.exe_parents) { raw in
            (0..<min(count, Int(MG_EXE_PARENTS))).map { i in
                let slot = raw[(i * Int(MG_EXE_PARENT_LEN))..<((i + 1) * Int(MG_EXE_PARENT_LEN))]
                return String(decoding: slot.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        return (complete ? "/" : "…/") + (parents.reversed() + [name]).joined(separator: "/")
    }

    static func text<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    static func prot(_ value: UInt32) -> String {
        (value & 1 != 0 ? "r" : "-") + (value & 2 != 0 ? "w" : "-") + (value & 4 != 0 ? "x" : "-")
    }

    /// Kernel dev_t (major << 20 | minor) as "major:minor".
    static func device(_ dev: UInt32) -> String { "\(dev >> 20):\(dev & 0xFFFFF)" }

    static func ptraceRequest(_ request: UInt32) -> String {
        switch request {
        case 4: "PTRACE_POKETEXT"
        case 5: "PTRACE_POKEDATA"
        case 6: "PTRACE_POKEUSER"
        case 13: "PTRACE_SETREGS"
        case 15: "PTRACE_SETFPREGS"
        case 16: "PTRACE_ATTACH"
        case 0x4205: "PTRACE_SETREGSET"
        case 0x4206: "PTRACE_SEIZE"
        default: "request \(request)"
        }
    }

    /// Names of the (native) syscall numbers in bpf/syscalls.h; "ia32 " marks a call made
    /// through the 32-bit ABI.
    static func syscallName(_ reported: UInt32) -> String {
        let compat = reported & MG_SYSCALL_COMPAT != 0
        let nr = reported & ~MG_SYSCALL_COMPAT
        let name = syscallNames[nr] ?? "syscall \(nr)"
        return compat ? "ia32 \(name)" : name
    }

    #if arch(x86_64)
    static let syscallNames: [UInt32: String] = [2: "open", 9: "mmap", 10: "mprotect", 59: "execve", 101: "ptrace", 257: "openat",
                                                 311: "process_vm_writev", 322: "execveat", 329: "pkey_mprotect", 437: "openat2",
                                                 5: "open", 295: "openat"]
    #else
    static let syscallNames: [UInt32: String] = [56: "openat", 117: "ptrace", 221: "execve", 222: "mmap", 226: "mprotect",
                                                 271: "process_vm_writev", 281: "execveat", 288: "pkey_mprotect", 437: "openat2"]
    #endif
}
