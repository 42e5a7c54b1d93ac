import MemguardCore

/// Puts the seccomp profiles a container asked for into its config.json (`linux.seccomp`),
/// where the runtime applies them: a profile from <config-dir>/seccomp/<name>.json replaces the
/// container's own; wx-deny is merged on top of whatever results. Every profile is checked
/// with libseccomp first; nothing is written if any check fails.
public enum ProfileInstaller {
    public static func profilePath(_ name: String, paths: MemguardPaths) -> String {
        "\(paths.configDir)/seccomp/\(name).json"
    }

    public static func install(_ names: [String], into config: OCIConfig, paths: MemguardPaths) throws {
        var profile: SeccompProfile?
        for name in names where name != MonitorSettings.wxDeny {
            let path = profilePath(name, paths: paths)
            guard FileSystem.exists(path) else {
                throw MemguardError("seccomp profile \"\(name)\" not found: no \(path)")
            }
            let loaded = try SeccompProfile(bytes: FileSystem.readTrusted(path), what: "seccomp profile \(path)")
            _ = try SeccompCompiler.check(loaded, what: "seccomp profile \(path)")
            profile = loaded
        }
        if names.contains(MonitorSettings.wxDeny) {
            var base = profile
            if base == nil, let existing = config.seccomp {
                base = try SeccompProfile(json: existing, what: "the container's linux.seccomp")
            }
            profile = try WXDeny.apply(to: base ?? WXDeny.allowAll())
        }
        guard let profile else { return }
        _ = try SeccompCompiler.check(profile, what: "the container's resulting seccomp profile")
        try config.setSeccomp(json: profile.json, what: "seccomp profile")
    }
}
