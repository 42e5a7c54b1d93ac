import CMemguardABI
import Glibc
import MemguardCore
import MemguardProbes

/// The container's metrics in Prometheus text format, one file per container in a textfile
/// collector directory (written by temporary file + rename, removed at teardown).
struct Metrics {
    var container: ContainerID
    /// Events by kind (index = raw value) and action (raw value): a counter per cell, no
    /// allocation per event.
    var events = [UInt64](repeating: 0, count: 16 * 8)
    var counters: mg_scope?
    var undecodable: UInt64 = 0
    var workingSet: UInt64?
    var startTime: Double

    mutating func count(kind: UInt32, action: UInt32) {
        events[Int(min(kind, 15)) * 8 + Int(min(action, 7))] += 1
    }

    var text: String {
        let c = "container=\"\(Self.escape(container.raw))\""
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for s in samples { out += "\(name){\(s.labels)} \(s.value)\n" }
        }
        metric("memguard_events_total", "counter", "Memory-protection events reported for the container, by kind and action.",
               events.indices.filter { events[$0] > 0 }.map { index in
                   let kind = EventKind(rawValue: UInt32(index / 8))?.name ?? "unknown"
                   let action = EventAction(rawValue: UInt32(index % 8))?.name ?? "unknown"
                   return ("\(c),kind=\"\(kind)\",action=\"\(action)\"", "\(events[index])")
               })
        let k = counters
        metric("memguard_events_lost_total", "counter", "Events the kernel could not deliver (ring buffer full or missing) or the monitor could not decode.",
               [(c, "\((k?.lost ?? 0) + (k?.no_ring ?? 0) + undecodable)")])
        metric("memguard_mmap_calls_total", "counter", "mmap calls made in the container.", [(c, "\(k?.mmap_calls ?? 0)")])
        metric("memguard_mprotect_calls_total", "counter", "mprotect and pkey_mprotect calls made in the container.", [(c, "\(k?.mprotect_calls ?? 0)")])
        metric("memguard_anonymous_mappings_total", "counter", "Anonymous mmap calls made in the container.", [(c, "\(k?.anon_maps ?? 0)")])
        metric("memguard_anonymous_mapped_bytes_total", "counter", "Bytes asked for by anonymous mmap calls.", [(c, "\(k?.anon_bytes ?? 0)")])
        metric("memguard_unjudged_mprotect_calls_total", "counter", "Write-only mprotect calls whose memory could not be looked up (mmap lock busy, and the lock-free read raced): counted, not reported.", [(c, "\(k?.unjudged_writes ?? 0)")])
        metric("memguard_allowed_wx_total", "counter", "W^X calls by allowlisted executables (not reported as events).", [(c, "\(k?.allowed_wx ?? 0)")])
        if let workingSet {
            metric("memguard_working_set_bytes", "gauge", "Container memory usage minus inactive file pages.", [(c, "\(workingSet)")])
        }
        metric("memguard_monitor_resident_bytes", "gauge", "Resident memory of the container's monitor.", [(c, "\(Self.residentBytes())")])
        metric("memguard_monitor_start_time_seconds", "gauge", "When the container's monitor started (Unix time).", [(c, String(format3: startTime))])
        return out
    }

    func write(paths: MemguardPaths) throws {
        try FileSystem.makeDirectories(paths.metricsDir, mode: 0o755)
        try FileSystem.writeAtomically(paths.metricsFile(for: container), text, mode: 0o644)
    }

    /// Label values escape backslash, double quote and newline.
    static func escape(_ value: String) -> String {
        var out = ""
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func residentBytes() -> UInt64 {
        guard let text = try? FileSystem.readText("/proc/self/statm", limit: 256) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = UInt64(fields[1]) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }
}

extension String {
    /// A non-negative number with three decimals, without Foundation.
    init(format3 value: Double) {
        let scaled = UInt64((value * 1000).rounded())
        let frac = String(scaled % 1000)
        self = "\(scaled / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }
}
