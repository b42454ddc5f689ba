// progcap — process exit codes (documented in docs/operations.md).
#pragma once

namespace progcap::core {

enum ExitCode : int {
  kExitOk = 0,              // every step completed, nothing dead-lettered
  kExitFailed = 1,          // a step failed (checkpoints up to the last acknowledged batch are kept)
  kExitUsage = 2,           // bad command line
  kExitDeadLettered = 3,    // completed, but records were dead-lettered (more than --max-dead-letters)
  kExitPluginCrash = 70,    // a plugin crashed the process (SIGSEGV/SIGBUS/...); rerun resumes
  kExitInterrupted = 75,    // SIGINT/SIGTERM or a timeout: drained, checkpoints saved, rerun resumes
  kExitConfig = 78,         // invalid pipeline, options, inputs or environment (EX_CONFIG)
};

}  // namespace progcap::core
