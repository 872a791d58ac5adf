// local placeholder (not committed): main's index has this target's sources staged
