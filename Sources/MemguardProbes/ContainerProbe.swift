import CLibBPF
import CMemguardABI
import CShims
import Glibc
import MemguardCore

/// One container's part of the shared probe set: its entry in mg_scopes (keyed by cgroup id)
/// and its own ring buffer, a slot of mg_rings named by the entry. Callers hold the probe lock
/// (except for `refillSpares`).
///
/// Every insert into or delete from mg_rings waits for an RCU grace period (4-20 ms measured
/// here), so rings are pooled: registration takes a spare (a map update of microseconds), a
/// container's ring goes back to the pool when it ends (events of the old container still in
/// it are told apart by their cgroup id), the monitor adds a spare only when none is left, and
/// only spares beyond `maxSpareRings` are deleted. A steady stream of containers makes no
/// mg_rings update at all.
public enum ContainerProbe {
    /// Size of each container's ring buffer: 4096 events (512 bytes each), ~28 ms of a burst of
    /// 150k events/s if the monitor is not scheduled (measured: bench/throughput.sh).
    public static let ringSize: UInt32 = 2 << 20
    /// Spare rings kept inserted for the next containers: at least `spareRings`, at most
    /// `maxSpareRings` (2 MiB each).
    public static let spareRings = 1
    public static let maxSpareRings = 2

    public struct Registration {
        public var ringFD: Int32
        public var slot: UInt32
    }

    /// Registers the container with a spare ring (or a new one when none is spare). The
    /// returned ring fd is owned by the caller.
    public static func register(_ scope: ContainerScope, settings: MonitorSettings, probes: ProbeSet) throws -> Registration {
        let slot = try spareSlots(probes).first ?? addRing(probes)
        let ring = try ringFD(slot: slot, probes: probes)
        var entry = mg_scope()
        entry.pidns_inum = scope.pidnsInode
        entry.pidns_level = scope.pidnsLevel
        entry.mode = settings.mode == .enforce ? UInt32(MG_MODE_ENFORCE.rawValue) : UInt32(MG_MODE_AUDIT.rawValue)
        entry.ring_slot = slot
        entry.enforce_action = settings.action == .freeze ? UInt32(MG_ENFORCE_FREEZE.rawValue) : UInt32(MG_ENFORCE_KILL.rawValue)
        if settings.mode == .learn { entry.mode = UInt32(MG_MODE_LEARN.rawValue) }
        let t = settings.thresholds
        entry.spray_window_ns = t.sprayWindowMilliseconds * 1_000_000
        entry.spray_max_maps = t.sprayMaxMaps
        entry.spray_max_bytes = t.sprayMaxBytes
        if settings.recordProfile != nil { entry.flags |= UInt32(MG_SCOPE_RECORD.rawValue) }
        if settings.seccompProfiles.contains(MonitorSettings.wxDeny) { entry.flags |= UInt32(MG_SCOPE_WX_DENY.rawValue) }
        do {
            try probes.scopes.update(key: scope.cgroupID, value: entry, flags: Int32(BPF_NOEXIST))
        } catch let error as MemguardError where error.errno == Errno(EEXIST) {
            close(ring)
            throw MemguardError("cgroup \(scope.cgroupPath) (id \(scope.cgroupID)) is already registered by another container")
        } catch {
            close(ring)
            throw error
        }
        if entry.flags & UInt32(MG_SCOPE_RECORD.rawValue) != 0 { try updateRecordingCount(probes) }
        return Registration(ringFD: ring, slot: slot)
    }

    /// mg_config[0]: how many registered containers record their syscalls (derived from the
    /// scopes, so it can never drift). While it is zero the probes skip unjudged syscalls.
    public static func updateRecordingCount(_ probes: ProbeSet) throws {
        let recording = probes.scopes.keys(UInt64.self).filter { key in
            (probes.scopes.lookup(key: key, as: mg_scope.self)?.flags ?? 0) & UInt32(MG_SCOPE_RECORD.rawValue) != 0
        }.count
        try probes.config.update(key: UInt32(0), value: UInt32(recording))
    }

    /// An executable of this container allowed to do the kinds in `kinds` (a JIT).
    public struct Allowed: Equatable, Sendable {
        public var ino: UInt64
        public var dev: UInt32
        public var kinds: Set<EventKind>

        public init(ino: UInt64, dev: UInt32, kinds: Set<EventKind>) {
            self.ino = ino
            self.dev = dev
            self.kinds = kinds
        }
    }

    /// The kinds a JIT runtime needs: memory writable and executable, in every form.
    public static let wxKinds: Set<EventKind> = [.wxMmap, .wxMprotect, .execWritable, .codePatch]

    /// Adds the container's allowlist entries (before its entrypoint runs).
    public static func allow(_ entries: [Allowed], cgroupID: UInt64, probes: ProbeSet) throws {
        for entry in entries {
            var key = mg_allow_key()
            key.cgroup_id = cgroupID
            key.ino = entry.ino
            key.dev = entry.dev
            let mask = entry.kinds.reduce(UInt32(0)) { $0 | (1 << $1.rawValue) }
            let merged = mask | (probes.allow.lookup(key: key, as: UInt32.self) ?? 0)
            try probes.allow.update(key: key, value: merged)
        }
    }

    /// Stops the kernel from emitting for this cgroup and returns its final counters (nil if it
    /// was not registered). Its ring becomes a spare: in-flight events still land in it, for
    /// the caller to drain (or for the next owner to recognise by cgroup id and drop).
    public static func unregister(cgroupID: UInt64, probes: ProbeSet) throws -> mg_scope? {
        for key in probes.allow.keys(mg_allow_key.self, zero: mg_allow_key()) where key.cgroup_id == cgroupID {
            try probes.allow.delete(key: key)
        }
        let taken = try probes.scopes.take(key: cgroupID, as: mg_scope.self)
        if let taken, taken.flags & UInt32(MG_SCOPE_RECORD.rawValue) != 0 { try updateRecordingCount(probes) }
        return taken
    }

    /// Deletes spare rings beyond `maxSpareRings` (after containers ended together).
    public static func trimSpares(probes: ProbeSet) throws {
        for slot in try spareSlots(probes).dropFirst(maxSpareRings).reversed() {
            try probes.rings.delete(key: slot)
        }
    }

    /// Inserts spare rings until `spareRings` are ready. Needs no lock (so the RCU waits hold
    /// up no hook): a slot taken meanwhile makes the insert try the next one, and a spare too
    /// many is trimmed when a container ends.
    public static func refillSpares(probes: ProbeSet) throws {
        var missing = try spareRings - spareSlots(probes).count
        while missing > 0 {
            _ = try addRing(probes)
            missing -= 1
        }
    }

    /// Slots in mg_rings that no registered container uses.
    static func spareSlots(_ probes: ProbeSet) throws -> [UInt32] {
        let used = Set(probes.scopes.keys(UInt64.self).compactMap { probes.scopes.lookup(key: $0, as: mg_scope.self)?.ring_slot })
        return probes.rings.keys(UInt32.self).filter { !used.contains($0) }.sorted()
    }

    /// Creates a ring buffer and inserts it in a new slot.
    static func addRing(_ probes: ProbeSet) throws -> UInt32 {
        let ring = mg_ringbuf_create("mg_ring", ringSize)
        guard ring >= 0 else { throw MemguardError("creating a ring buffer", errno: Errno(-ring)) }
        defer { close(ring) }
        var slot = (probes.rings.keys(UInt32.self).max() ?? 0) &+ 1
        for _ in 0..<16 {
            do {
                try probes.rings.update(key: slot, value: ring, flags: Int32(BPF_NOEXIST))
                return slot
            } catch let error as MemguardError where error.errno == Errno(EEXIST) {
                slot &+= 1
            }
        }
        throw MemguardError("no free slot in mg_rings after 16 tries")
    }

    /// An fd for the ring in `slot` (looking up a map-in-map slot gives the inner map's id).
    public static func ringFD(slot: UInt32, probes: ProbeSet) throws -> Int32 {
        guard let id = probes.rings.lookup(key: slot, as: UInt32.self) else {
            throw MemguardError("ring slot \(slot) vanished from mg_rings")
        }
        let fd = bpf_map_get_fd_by_id(id)
        guard fd >= 0 else { throw MemguardError("opening ring buffer map id \(id)", errno: .current) }
        return fd
    }
}
