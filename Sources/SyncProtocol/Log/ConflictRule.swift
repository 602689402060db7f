/// Which of an article's competing heads goes in the folder. Every site applies the same rule to
/// the same set of heads, so every site shows the same winner without asking anyone.
///
/// Since protocol v3: a put beats a delete (losing text is worse than keeping a file: the article
/// stays, the delete stays in the log and the conflict stays listed until resolved). Among heads of
/// the same kind the later hybrid-logical time wins; ties go to the greater site ID, then the
/// greater version. Before v3 the time alone decided, so a later delete won over an edit.
public enum ConflictRule {
    public static func winner(of heads: [LogEntry]) -> LogEntry? {
        heads.max(by: ordersBefore)
    }

    /// True when `a` loses to `b`.
    public static func ordersBefore(_ a: LogEntry, _ b: LogEntry) -> Bool {
        if a.operation != b.operation { return a.operation == .delete }
        if a.time != b.time { return a.time < b.time }
        if a.origin != b.origin { return a.origin < b.origin }
        return a.version < b.version
    }
}
