/// Who last changed each paragraph of a version: walks the version's history back, newest first,
/// and gives each line of its text to the oldest version from which it is unchanged. Pure: the
/// texts come from the caller, one older version at a time, and the walk stops as soon as every
/// line is given, so an article whose paragraphs all changed recently costs a few versions.
///
/// Lines are the unit: an article's paragraphs are its lines (blank lines between them). Lines are
/// compared whole, so a paragraph with one word changed is that version's.
public enum ArticleBlame {
    /// For each line of `lines` (the text of version 0), the index of the version that introduced
    /// it: 0 for the version itself, k for the k-th older one. `older` gives the text of version
    /// k (k = 1, 2, …), or nil past the oldest (then every line not given yet is the oldest
    /// version's). A version without text (a delete) gives nothing further back.
    public static func attribute(_ lines: [String], older: (Int) throws -> [String]?) rethrows -> [Int] {
        var owner = [Int](repeating: -1, count: lines.count)
        // Where each line not given yet sits in the text of the version being looked at.
        var place: [Int: Int] = Dictionary(uniqueKeysWithValues: lines.indices.map { ($0, $0) })
        var current = lines
        var index = 0
        while !place.isEmpty {
            guard let previous = try older(index + 1) else { break }
            // Lines of `current` that are also in `previous`, matched in order (Myers).
            var kept = [Int: Int]()
            let difference = current.difference(from: previous)
            var inserted = Set<Int>()
            var removed = Set<Int>()
            for change in difference {
                switch change {
                case .insert(let offset, _, _): inserted.insert(offset)
                case .remove(let offset, _, _): removed.insert(offset)
                }
            }
            var old = 0
            for new in current.indices where !inserted.contains(new) {
                while removed.contains(old) { old += 1 }
                kept[new] = old
                old += 1
            }
            var next: [Int: Int] = [:]
            for (line, at) in place {
                if let before = kept[at] { next[line] = before } else { owner[line] = index }
            }
            place = next
            current = previous
            index += 1
        }
        for (line, _) in place { owner[line] = index }
        return owner
    }
}
