// Package generations is a bounded map that forgets in two generations:
// when the current generation is full it becomes the old one and the old
// one is forgotten; an entry found in the old generation moves back to
// the current one. A flood of new keys (a scanner's unique paths, a crowd
// of new clients) thus forgets the entries it outlasts, not the ones still
// in use, as clearing a full table would, and it never locks the table
// against new keys, as refusing them when full would. What is forgotten
// depends only on the order of the calls, so analyzers that feed it in
// capture order stay deterministic.
package generations
