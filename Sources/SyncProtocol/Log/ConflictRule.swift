/// Which of an article's competing heads goes in the folder. Every site applies the same rule to
/// the same set of heads, so every site shows the same winner without asking anyone.
public enum ConflictRule {
    /// The later hybrid-logical time wins; ties go to the greater site ID, then the greater version.
    public static func winner(of heads: [LogEntry]) -> LogEntry? {
        heads.max { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.origin != b.origin { return a.origin < b.origin }
            return a.version < b.version
        }
    }
}
