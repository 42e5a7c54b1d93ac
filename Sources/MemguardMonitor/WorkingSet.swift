import Glibc
import MemguardCore

/// The container's working set, as the kubelet computes it: memory usage minus inactive file
/// pages, from its memory cgroup (v2 memory.current/memory.stat, or the v1 memory controller on
/// hybrid hosts). Alerts when it grows faster than a threshold or passes a fraction of the limit.
struct WorkingSet {
    struct Sample {
        var bytes: UInt64
        var limit: UInt64?
    }

    enum Layout {
        case v2(String)
        case v1(String)
    }

    let layout: Layout?
    private var last: (bytes: UInt64, time: UInt64)?
    private var growing = false
    private var nearLimit = false

    /// Finds the memory cgroup of the container's init (at start, while it exists).
    init(initPID: Int32, unifiedDir: String) {
        if FileSystem.exists("\(unifiedDir)/memory.current") {
            layout = .v2(unifiedDir)
        } else if let text = try? FileSystem.readText("/proc/\(initPID)/cgroup"),
                  let line = text.split(separator: "\n").first(where: { $0.split(separator: ":").dropFirst().first?.split(separator: ",").contains("memory") == true }),
                  let path = line.split(separator: ":", maxSplits: 2).last, FileSystem.exists("/sys/fs/cgroup/memory\(path)") {
            layout = .v1("/sys/fs/cgroup/memory\(path)")
        } else {
            layout = nil
        }
    }

    var source: String {
        switch layout {
        case .v2(let dir): return dir
        case .v1(let dir): return dir
        case nil: return "none"
        }
    }

    func sample() -> Sample? {
        switch layout {
        case .v2(let dir):
            guard let usage = Self.number("\(dir)/memory.current") else { return nil }
            let inactive = Self.stat("\(dir)/memory.stat", key: "inactive_file") ?? 0
            let max = (try? FileSystem.readText("\(dir)/memory.max", limit: 64))?.split(separator: "\n").first.flatMap { UInt64($0) }
            return Sample(bytes: usage > inactive ? usage - inactive : 0, limit: max)
        case .v1(let dir):
            guard let usage = Self.number("\(dir)/memory.usage_in_bytes") else { return nil }
            let inactive = Self.stat("\(dir)/memory.stat", key: "total_inactive_file") ?? 0
            // v1 reports "no limit" as a huge page-rounded number.
            let limit = Self.number("\(dir)/memory.limit_in_bytes").flatMap { $0 >= (1 << 60) ? nil : $0 }
            return Sample(bytes: usage > inactive ? usage - inactive : 0, limit: limit)
        case nil:
            return nil
        }
    }

    /// Alert lines for this sample: growth faster than the threshold, or above the fraction of
    /// the limit. Each fires when its condition starts to hold, not on every sample.
    mutating func alerts(for sample: Sample, thresholds: HostConfig.Thresholds, container: ContainerID) -> [JSONLine] {
        var lines: [JSONLine] = []
        let now = Clock.nanoseconds(CLOCK_MONOTONIC)
        if let last, now > last.time {
            let seconds = Double(now - last.time) / 1e9
            let rate = sample.bytes > last.bytes ? Double(sample.bytes - last.bytes) / seconds : 0
            let fast = rate > Double(thresholds.workingSetGrowthBytesPerSecond)
            if fast && !growing {
                var line = EventLog.record(container, event: "working-set-growth")
                line.add("severity", "medium")
                line.add("working_set_bytes", sample.bytes)
                line.add("growth_bytes_per_second", UInt64(rate))
                line.add("threshold_bytes_per_second", thresholds.workingSetGrowthBytesPerSecond)
                lines.append(line)
            }
            growing = fast
        }
        last = (sample.bytes, now)
        if let limit = sample.limit, limit > 0 {
            let near = Double(sample.bytes) > Double(limit) * thresholds.workingSetLimitFraction
            if near && !nearLimit {
                var line = EventLog.record(container, event: "working-set-limit")
                line.add("severity", "medium")
                line.add("working_set_bytes", sample.bytes)
                line.add("limit_bytes", limit)
                line.add("fraction", fraction: Double(sample.bytes) / Double(limit))
                lines.append(line)
            }
            nearLimit = near
        }
        return lines
    }

    static func number(_ path: String) -> UInt64? {
        (try? FileSystem.readText(path, limit: 64))?.split(separator: "\n").first.flatMap { UInt64($0) }
    }

    static func stat(_ path: String, key: String) -> UInt64? {
        guard let text = try? FileSystem.readText(path, limit: 65536) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return UInt64(parts[1]) }
        }
        return nil
    }
}
