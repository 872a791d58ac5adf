import TernServer
#if canImport(Glibc)
import Glibc
#endif

// Writes to a peer that went away must fail with EPIPE, not kill the server.
signal(SIGPIPE, SIG_IGN)
let status = await Launcher.main(arguments: Array(CommandLine.arguments.dropFirst()))
exit(status)
