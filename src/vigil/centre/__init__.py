"""The monitoring centre: duty shifts and handovers, patrol rounds, incidents and case files, performance."""
