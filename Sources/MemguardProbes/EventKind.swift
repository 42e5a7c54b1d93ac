import CMemguardABI

/// The names of the event kinds in bpf/include/memguard_abi.h, as they appear in logs.
public enum EventKind: UInt32, CaseIterable, Sendable {
    case wxMmap = 1
    case wxMprotect = 2
    case execWritable = 3
    case codePatch = 4
    case execMemfd = 5
    case execDeleted = 6
    case ptrace = 7
    case vmWritev = 8
    case procMem = 9
    case heapSpray = 10

    public var name: String {
        switch self {
        case .wxMmap: "wx-mmap"
        case .wxMprotect: "wx-mprotect"
        case .execWritable: "exec-writable"
        case .codePatch: "code-patch"
        case .execMemfd: "exec-memfd"
        case .execDeleted: "exec-deleted"
        case .ptrace: "ptrace"
        case .vmWritev: "vm-writev"
        case .procMem: "proc-mem"
        case .heapSpray: "heap-spray"
        }
    }

    public var severity: String {
        switch self {
        case .execDeleted, .heapSpray: "medium"
        default: "high"
        }
    }

    public init?(name: String) {
        guard let kind = EventKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    /// Kinds the kernel can count (indexes into mg_scope.events).
    public static let count = Int(MG_KIND_COUNT.rawValue)
}

public enum EventAction: UInt32, Sendable {
    case none = 0
    case killed = 1
    case killFailed = 2
    case denied = 3
    case stopped = 4
    case alert = 5

    public var name: String {
        switch self {
        case .none: "logged"
        case .killed: "killed"
        case .killFailed: "kill-failed"
        case .denied: "denied"
        case .stopped: "stopped"
        case .alert: "alert"
        }
    }
}

extension mg_scope {
    /// Record mode: the native syscall numbers the container made.
    public var recordedSyscalls: [Int32] {
        withUnsafeBytes(of: syscalls) { raw in
            let words = raw.bindMemory(to: UInt64.self)
            return (0..<Int(MG_RECORD_SYSCALLS)).filter { words[$0 / 64] & (1 << UInt64($0 % 64)) != 0 }.map { Int32($0) }
        }
    }

    /// Per-kind violation counters, by kind name.
    public var eventCounts: [(kind: EventKind, count: UInt64)] {
        withUnsafeBytes(of: events) { raw in
            let values = raw.bindMemory(to: UInt64.self)
            return EventKind.allCases.map { ($0, values[Int($0.rawValue)]) }
        }
    }
}
