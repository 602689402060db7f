/// One step of an edit script between two sequences.
public enum DiffStep<Element: Equatable & Sendable>: Equatable, Sendable {
    case same(Element)
    case removed(Element)
    case added(Element)
}

/// The edit script from `old` to `new`: every element of both, in order, each marked kept,
/// removed or added. Built on the standard library's Myers difference.
public func editScript<Element: Hashable & Sendable>(from old: [Element], to new: [Element]) -> [DiffStep<Element>] {
    let difference = new.difference(from: old)
    var removed = Set<Int>()
    var inserted = Set<Int>()
    for change in difference {
        switch change {
        case .remove(let offset, _, _): removed.insert(offset)
        case .insert(let offset, _, _): inserted.insert(offset)
        }
    }
    var steps: [DiffStep<Element>] = []
    steps.reserveCapacity(old.count + inserted.count)
    var i = 0, j = 0
    while i < old.count || j < new.count {
        if i < old.count && removed.contains(i) {
            steps.append(.removed(old[i]))
            i += 1
        } else if j < new.count && inserted.contains(j) {
            steps.append(.added(new[j]))
            j += 1
        } else {
            steps.append(.same(old[i]))
            i += 1
            j += 1
        }
    }
    return steps
}
