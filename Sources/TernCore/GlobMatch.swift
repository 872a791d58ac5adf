/// Redis's `stringmatchlen`: glob-style matching with `*`, `?`, `[...]` (ranges, `^` negation) and `\` escapes,
/// used by KEYS, SCAN MATCH, CONFIG GET, PUBSUB and CLIENT filters.
public enum GlobMatch {
    public static func matches(pattern: [UInt8], _ string: [UInt8], caseInsensitive: Bool = false) -> Bool {
        var nesting = 0
        var skipLonger = false
        return pattern.withUnsafeBufferPointer { p in
            string.withUnsafeBufferPointer { s in
                match(p, 0, s, 0, caseInsensitive, &nesting, &skipLonger)
            }
        }
    }

    public static func matches(pattern: String, _ string: String, caseInsensitive: Bool = false) -> Bool {
        matches(pattern: Array(pattern.utf8), Array(string.utf8), caseInsensitive: caseInsensitive)
    }

    @inline(__always)
    private static func lower(_ c: UInt8) -> UInt8 { (c >= 65 && c <= 90) ? c | 0x20 : c }

    private static func match(_ p: UnsafeBufferPointer<UInt8>, _ pi: Int, _ s: UnsafeBufferPointer<UInt8>, _ si: Int,
                              _ nocase: Bool, _ nesting: inout Int, _ skipLonger: inout Bool) -> Bool {
        // Bound the recursion as Redis does, so hostile patterns can't blow the stack.
        if nesting > 1000 { return false }
        nesting += 1
        defer { nesting -= 1 }
        var pi = pi
        var si = si
        while pi < p.count && si < s.count {
            switch p[pi] {
            case UInt8(ascii: "*"):
                while pi + 1 < p.count && p[pi + 1] == UInt8(ascii: "*") { pi += 1 }
                if pi + 1 == p.count { return true }
                while si < s.count {
                    if match(p, pi + 1, s, si, nocase, &nesting, &skipLonger) { return true }
                    // The rest of the pattern matches nowhere later: earlier stars can't help either.
                    if skipLonger { return false }
                    si += 1
                }
                skipLonger = true
                return false
            case UInt8(ascii: "?"):
                si += 1
            case UInt8(ascii: "["):
                pi += 1
                let negate = pi < p.count && p[pi] == UInt8(ascii: "^")
                if negate { pi += 1 }
                var matched = false
                while true {
                    if pi >= p.count { pi -= 1; break }
                    if p[pi] == UInt8(ascii: "\\") && pi + 2 <= p.count - 1 + 1 && pi + 1 < p.count {
                        pi += 1
                        if p[pi] == s[si] { matched = true }
                    } else if p[pi] == UInt8(ascii: "]") {
                        break
                    } else if pi + 2 < p.count && p[pi + 1] == UInt8(ascii: "-") {
                        var start = p[pi]
                        var end = p[pi + 2]
                        var c = s[si]
                        if start > end { swap(&start, &end) }
                        if nocase { start = lower(start); end = lower(end); c = lower(c) }
                        pi += 2
                        if c >= start && c <= end { matched = true }
                    } else {
                        if nocase ? lower(p[pi]) == lower(s[si]) : p[pi] == s[si] { matched = true }
                    }
                    pi += 1
                }
                if negate { matched = !matched }
                if !matched { return false }
                si += 1
            case UInt8(ascii: "\\"):
                if pi + 1 < p.count { pi += 1 }
                fallthrough
            default:
                if nocase ? lower(p[pi]) != lower(s[si]) : p[pi] != s[si] { return false }
                si += 1
            }
            pi += 1
            if si == s.count {
                while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
                break
            }
        }
        return pi == p.count && si == s.count
    }
}
