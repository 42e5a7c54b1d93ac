import CMemguardABI
import MemguardCore
import MemguardProbes

/// learn mode: which executable (path inside the container) broke W^X how, from the events.
struct BaselineLearner {
    private var kinds: [String: Set<EventKind>] = [:]
    private(set) var unnamed = 0

    mutating func observe(_ kind: EventKind, exePath: String) {
        guard ContainerProbe.wxKinds.contains(kind) else { return }
        // A path that is not complete ("…/") or a deleted file cannot be allowed by path.
        guard exePath.hasPrefix("/"), !exePath.hasSuffix(" (deleted)") else {
            unnamed += 1
            return
        }
        kinds[exePath, default: []].insert(kind)
    }

    var baseline: Baseline {
        Baseline(entries: kinds.keys.sorted().map { path in
            Baseline.Entry(path: path, kinds: kinds[path]!.sorted { $0.rawValue < $1.rawValue }.map(\.name))
        })
    }

    /// Writes the baseline and returns the log line that says where (or why not).
    func write(name: String, paths: MemguardPaths, container: ContainerID) -> JSONLine {
        var line = EventLog.record(container, event: "baseline-learned")
        do {
            try FileSystem.makeDirectories(paths.baselinesDir)
            let file = Baseline.path(name, paths: paths)
            try FileSystem.writeAtomically(file, baseline.json)
            line.add("baseline", file)
            line.add("executables", kinds.count)
            if unnamed > 0 {
                line.add("severity", "warning")
                line.add("unnamed_events", unnamed)
            }
        } catch {
            line.add("severity", "error")
            line.add("error", "\(error)")
        }
        return line
    }
}
