/* Phase times for finding where a run's time goes: with EDGESET_PROFILE set in the environment,
 * es_profile() prints "edgeset: profile: <step> <seconds> s" on standard error, the wall time
 * since the previous call (the first call starts the clock and prints nothing). Without it,
 * nothing is printed. Call it from one thread. bench/run-grow reads these lines. */
#ifndef ES_CORE_PROFILE_H
#define ES_CORE_PROFILE_H

void es_profile(const char *step);

#endif
