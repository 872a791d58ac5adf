import TernStorage

/// LATENCY LATEST / HISTORY / RESET / DOCTOR / GRAPH / HISTOGRAM / HELP, as Redis 7.0's latency.c: the
/// latency monitor's events (LatencyMonitor) and the per-command histograms (LatencyHistogram).
enum LatencyCommands {
    static var specs: [CommandSpec] {
        let flags: CommandFlags = [.admin, .noscript, .loading, .stale]
        return [
            CommandSpec("latency", arity: -2, group: "server", summary: "A container for latency diagnostics commands",
                        since: "2.8.13", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("latest", arity: 2, flags: flags, group: "server",
                            summary: "Return the latest latency samples for all events", since: "2.8.13",
                            handler: latest),
                CommandSpec("history", arity: 3, flags: flags, group: "server",
                            summary: "Return timestamp-latency samples for the event", since: "2.8.13",
                            arguments: ["event"], handler: history),
                CommandSpec("reset", arity: -2, flags: flags, group: "server",
                            summary: "Reset latency data for one or more events", since: "2.8.13",
                            arguments: ["[event [event ...]]"]) { ctx in
                    ctx.integer(ctx.server.latency.reset((2..<ctx.argc).map { ctx.string($0) }))
                },
                CommandSpec("doctor", arity: 2, flags: flags, group: "server",
                            summary: "Return a human readable latency analysis report", since: "2.8.13") { ctx in
                    ctx.verbatim(doctorReport(ctx.server))
                },
                CommandSpec("graph", arity: 3, flags: flags, group: "server",
                            summary: "Return a latency graph for the event", since: "2.8.13",
                            arguments: ["event"], handler: graph),
                CommandSpec("histogram", arity: -2, flags: flags, group: "server",
                            summary: "Return the cumulative distribution of latencies of a subset of commands or all commands",
                            since: "7.0.0", complexity: "O(N) where N is the number of commands with latency information being retrieved.",
                            arguments: ["[command [command ...]]"], handler: histogram),
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "server",
                            summary: "Show helpful text about the different subcommands", since: "2.8.13") { ctx in
                    ServerCommands.help(ctx, "LATENCY", [
                        "DOCTOR",
                        "    Return a human readable latency analysis report.",
                        "GRAPH <event>",
                        "    Return an ASCII latency graph for the <event> class.",
                        "HISTORY <event>",
                        "    Return time-latency samples for the <event> class.",
                        "LATEST",
                        "    Return the latest latency samples for all events.",
                        "RESET [<event> ...]",
                        "    Reset latency data of one or more <event> classes.",
                        "    (default: reset all data for all event classes)",
                        "HISTOGRAM [COMMAND ...]",
                        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                        "    If no commands are specified then all histograms are replied.",
                    ])
                },
            ], handler: nil),
        ]
    }

    static func latest(_ ctx: CommandContext) throws {
        let events = ctx.server.latency.events.sorted { $0.key < $1.key }
        ctx.arrayHeader(events.count)
        for (name, history) in events {
            ctx.arrayHeader(4)
            ctx.bulk(name)
            ctx.integer(Int(history.latest.timestampSeconds))
            ctx.integer(history.latest.latencyMillis)
            ctx.integer(history.maxMillis)
        }
    }

    static func history(_ ctx: CommandContext) throws {
        let samples = ctx.server.latency.events[ctx.string(2)]?.samples ?? []
        ctx.arrayHeader(samples.count)
        for sample in samples {
            ctx.arrayHeader(2)
            ctx.integer(Int(sample.timestampSeconds))
            ctx.integer(sample.latencyMillis)
        }
    }

    // MARK: HISTOGRAM

    /// All commands with a histogram, or the named ones (a container also lists its subcommands'); unknown
    /// names are skipped.
    static func histogram(_ ctx: CommandContext) throws {
        let table = ctx.server.commands
        var chosen: [CommandSpec] = []
        if ctx.argc == 2 {
            chosen = table.allSpecs.filter { $0.stat.histogram.totalCount > 0 }.sorted { $0.fullName < $1.fullName }
        } else {
            for i in 2..<ctx.argc {
                guard let spec = lookup(table, ctx.string(i)) else { continue }
                if spec.stat.histogram.totalCount > 0 { chosen.append(spec) }
                for sub in spec.subcommands.values.sorted(by: { $0.name < $1.name }) where sub.stat.histogram.totalCount > 0 {
                    chosen.append(sub)
                }
            }
        }
        ctx.mapHeader(chosen.count)
        for spec in chosen {
            let h = spec.stat.histogram
            ctx.bulk(spec.fullName)
            ctx.mapHeader(2)
            ctx.bulk("calls")
            ctx.integer(Int(h.totalCount))
            ctx.bulk("histogram_usec")
            let buckets = h.cumulativeBuckets
            ctx.mapHeader(buckets.count)
            for b in buckets {
                ctx.integer(b.micros)
                ctx.integer(b.count)
            }
        }
    }

    /// lookupCommandBySds: "name" or "container|subcommand", case-insensitively.
    static func lookup(_ table: CommandTable, _ name: String) -> CommandSpec? {
        let parts = name.lowercased().split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count <= 2, let root = table.allSpecs.first(where: { $0.parent == nil && $0.name == parts[0] }) else {
            return nil
        }
        return parts.count == 2 ? root.subcommands[String(parts[1])] : root
    }

    // MARK: GRAPH

    static let graphColumns = 80

    static func graph(_ ctx: CommandContext) throws {
        let event = ctx.string(2)
        guard let history = ctx.server.latency.events[event] else {
            throw CommandError.err("No samples available for event '\(event)'")
        }
        let now = ctx.server.clock.nowMillis() / 1000
        var values: [Double] = []
        var labels: [String] = []
        for sample in history.samples {
            values.append(Double(sample.latencyMillis))
            let elapsed = Int(now - sample.timestampSeconds)
            if elapsed < 60 { labels.append("\(elapsed)s") }
            else if elapsed < 3600 { labels.append("\(elapsed / 60)m") }
            else if elapsed < 3600 * 24 { labels.append("\(elapsed / 3600)h") }
            else { labels.append("\(elapsed / (3600 * 24))d") }
        }
        let high = history.samples.map(\.latencyMillis).max() ?? 0
        let low = history.samples.map(\.latencyMillis).min() ?? 0
        var out = "\(event) - high \(high) ms, low \(low) ms (all time high \(history.maxMillis) ms)\n"
        out += String(repeating: "-", count: graphColumns) + "\n"
        out += Sparkline.render(values, labels: labels, columns: graphColumns, rows: 4)
        ctx.verbatim(out)
    }

    // MARK: DOCTOR

    /// createLatencyReport for the events Tern records (command, fast-command, expire-cycle, eviction-cycle).
    static func doctorReport(_ server: ServerState) -> String {
        let monitor = server.latency
        let threshold = server.config.latencyMonitorThreshold
        if monitor.events.isEmpty && threshold == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
        }
        if monitor.events.isEmpty {
            return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
        }
        var report = "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n"
        var advices = 0
        var slowlogEnabled = false, slowlogTuning = false, slowlogInspect = false, scheduler = false
        var hz = false, largeObjects = false
        let now = server.clock.nowMillis() / 1000
        for (number, (event, history)) in monitor.events.sorted(by: { $0.key < $1.key }).enumerated() {
            let samples = history.samples
            let sum = samples.reduce(0) { $0 + $1.latencyMillis }
            let avg = samples.isEmpty ? 0 : sum / samples.count
            let mad = samples.isEmpty ? 0 : samples.reduce(0) { $0 + abs(avg - $1.latencyMillis) } / samples.count
            let oldest = samples.map(\.timestampSeconds).min() ?? now
            let period = max(1, now - oldest)
            report += "\(number + 1). \(event): \(samples.count) latency spikes (average \(avg)ms, mean deviation \(mad)ms, period \(ServerState.fixed(Double(period) / Double(max(1, samples.count)), 2)) sec). Worst all time event \(history.maxMillis)ms."
            switch event {
            case "command":
                if server.config.slowlogLogSlowerThan < 0 {
                    slowlogEnabled = true
                    advices += 1
                } else if server.config.slowlogLogSlowerThan / 1000 > threshold {
                    slowlogTuning = true
                    advices += 1
                }
                slowlogInspect = true
                largeObjects = true
                advices += 2
            case "fast-command":
                scheduler = true
                advices += 1
            case "expire-cycle":
                hz = true
                largeObjects = true
                advices += 2
            case "eviction-cycle", "eviction-del":
                largeObjects = true
                advices += 1
            default:
                break
            }
            report += "\n"
        }
        if advices == 0 {
            return report + "\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n"
        }
        report += "\nI have a few advices for you:\n\n"
        if slowlogEnabled {
            report += "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than \(threshold * 1000)'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n"
        }
        if slowlogTuning {
            report += "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than \(threshold * 1000)'.\n"
        }
        if slowlogInspect {
            report += "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n"
        }
        if scheduler {
            report += "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n"
        }
        if hz && server.config.hz < 100 {
            report += "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n"
        }
        if largeObjects {
            report += "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n"
        }
        return report
    }
}

/// Redis's sparkline.c: an ASCII graph of a sequence, `rows` rows of "_o#" characters (filled), then the
/// samples' labels written vertically under them, one blank line between.
enum Sparkline {
    static let charset = Array("_o#".utf8)

    static func render(_ values: [Double], labels: [String], columns: Int, rows: Int) -> String {
        guard !values.isEmpty else { return "" }
        var out = ""
        var start = 0
        while start < values.count {
            let length = min(columns, values.count - start)
            if start != 0 { out += "\n" }
            out += renderRange(values, labels: labels, rows: rows, offset: start, length: length)
            start += columns
        }
        return out
    }

    static func renderRange(_ values: [Double], labels: [String], rows: Int, offset: Int, length: Int) -> String {
        let minimum = values.min()!, maximum = values.max()!
        var relmax = maximum - minimum
        if relmax == 0 { relmax = 1 }
        let steps = charset.count * rows
        let hasLabels = labels.contains { !$0.isEmpty }
        var out = ""
        var row = 0
        var more = true
        while more {
            more = false
            var chars = [UInt8](repeating: 32, count: length)
            for j in 0..<length {
                let value = values[j + offset]
                var step = Int((value - minimum) * Double(steps) / relmax)
                step = max(0, min(step, steps - 1))
                if row < rows {
                    let index = step - (rows - row - 1) * charset.count
                    more = true
                    if index >= 0 && index < charset.count {
                        chars[j] = charset[index]
                    } else if index >= charset.count {
                        chars[j] = UInt8(ascii: "|")
                    }
                } else {
                    // One blank line between the graph and the labels.
                    if hasLabels && row - rows < 1 {
                        more = true
                        break
                    }
                    let label = Array(labels[j + offset].utf8)
                    let position = row - rows - 1
                    if label.count > position {
                        more = true
                        chars[j] = label[position]
                    }
                }
            }
            if more {
                row += 1
                out += String(decoding: chars, as: UTF8.self) + "\n"
            }
        }
        return out
    }
}
