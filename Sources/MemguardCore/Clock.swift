import Glibc

/// Time stamps for log lines: RFC 3339 in UTC with nanoseconds.
public enum Clock {
    public static func now(_ clock: clockid_t = CLOCK_REALTIME) -> timespec {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return ts
    }

    public static func nanoseconds(_ clock: clockid_t) -> UInt64 {
        let ts = now(clock)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Wall-clock time of a CLOCK_BOOTTIME stamp (what bpf_ktime_get_boot_ns gives).
    public static func realtime(fromBoottime boot: UInt64) -> timespec {
        let offset = Int64(nanoseconds(CLOCK_REALTIME)) - Int64(nanoseconds(CLOCK_BOOTTIME))
        let real = Int64(boot) + offset
        return timespec(tv_sec: Int(real / 1_000_000_000), tv_nsec: Int(real % 1_000_000_000))
    }

    public static func rfc3339(_ ts: timespec = now()) -> String {
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = [UInt8]()
        out.reserveCapacity(30)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(v / divisor % 10))
                v %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2); out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2); out.append(UInt8(ascii: "."))
        digits(ts.tv_nsec, 9); out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Milliseconds since a CLOCK_MONOTONIC start, for durations in log lines.
    public static func millisecondsSince(_ start: UInt64) -> Double {
        Double(nanoseconds(CLOCK_MONOTONIC) &- start) / 1_000_000
    }
}
