// Which refusals are a credential holder's (the log's separate budget, worker_events.cc).
#include <gtest/gtest.h>

#include "relay/events.h"

namespace turnpike::relay {
namespace {

TEST(RefusalClass, CredentialHoldersRefusalsAreTheAuthenticatedOnes) {
  for (RefusalReason r : {RefusalReason::ForbiddenPeer, RefusalReason::Quota,
                          RefusalReason::WrongCredentials, RefusalReason::Capacity}) {
    EXPECT_TRUE(is_credential_holder_refusal(r)) << refusal_reason_name(r);
  }
  // What a stranger can cause without the secret (an expired-looking username is checked before
  // any password) shares the strangers' budget.
  for (RefusalReason r : {RefusalReason::BadIntegrity, RefusalReason::ExpiredCredential,
                          RefusalReason::CredentialTooLong, RefusalReason::UnknownUser,
                          RefusalReason::StaleNonce, RefusalReason::BadNonce,
                          RefusalReason::BadRequest, RefusalReason::InvalidText}) {
    EXPECT_FALSE(is_credential_holder_refusal(r)) << refusal_reason_name(r);
  }
}

}  // namespace
}  // namespace turnpike::relay
