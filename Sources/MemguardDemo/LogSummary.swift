import MemguardCore
import MemguardProbes

/// What one container's log says: violations by kind, actions, and whether the monitor's
/// start and stop lines are there.
public struct LogSummary {
    public var counts: [EventKind: Int] = [:]
    public var actions: [String: Int] = [:]
    public var started = false
    public var stopped = false
    public var lost: Int64 = 0
    /// Write-only mprotects whose memory could not be looked up: counted, not reported.
    public var unjudged: Int64 = 0
    public var containers: Set<String> = []
    public var lines = 0

    public init(path: String) throws {
        let text = try FileSystem.readText(path, limit: 256 << 20)
        for line in text.split(separator: "\n") {
            lines += 1
            let doc = try JSONDocument(parsing: Array(line.utf8), what: "a line of \(path)")
            if let container = doc.root["container"]?.string { containers.insert(container) }
            switch doc.root["event"]?.string {
            case "monitor-start": started = true
            case "monitor-stop":
                stopped = true
                lost = doc.root["lost"]?.int64 ?? -1
                unjudged = doc.root["unjudged_mprotect_calls"]?.int64 ?? 0
            case let name?:
                if let kind = EventKind(name: name) {
                    counts[kind, default: 0] += 1
                    actions[doc.root["action"]?.string ?? "?", default: 0] += 1
                }
            case nil: break
            }
        }
    }

    public var total: Int { counts.values.reduce(0, +) }

    public var kindsText: String {
        total == 0 ? "none" : EventKind.allCases.compactMap { kind in counts[kind].map { "\(kind.name)=\($0)" } }.joined(separator: " ")
    }
}
