// Host probe: this machine is expected to support the untrusted profile; a missing bwrap must
// fail closed with a message naming it.
#include "sandbox/host_features.h"

#include <gtest/gtest.h>

namespace hero::sandbox {
namespace {

TEST(HostFeaturesTest, MissingBwrapFailsClosedWithItsPath) {
  HostFeatures f = ProbeHost("/nonexistent/bwrap");
  EXPECT_FALSE(f.bwrap_found);
  Status s = CheckUntrustedAvailable(f);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "untrusted profile unavailable: bubblewrap not found at /nonexistent/bwrap");
  EXPECT_NE(DescribeHost(f).find("bubblewrap: /nonexistent/bwrap missing"), std::string::npos);
}

TEST(HostFeaturesTest, EachMissingFeatureIsNamed) {
  HostFeatures f = ProbeHost("/usr/bin/bwrap");
  if (!CheckUntrustedAvailable(f).ok()) GTEST_SKIP() << CheckUntrustedAvailable(f).message();
  HostFeatures g = f;
  g.seccomp_notify_ok = false;
  EXPECT_NE(CheckUntrustedAvailable(g).message().find("seccomp user notification"),
            std::string::npos);
  g = f;
  g.userns_ok = false;
  g.userns_error = "user.max_user_namespaces is 0";
  EXPECT_EQ(CheckUntrustedAvailable(g).message(),
            "untrusted profile unavailable: unprivileged user namespaces unusable: "
            "user.max_user_namespaces is 0");
  g = f;
  g.bwrap_version = "0.4.1";
  g.bwrap_version_ok = false;
  EXPECT_NE(CheckUntrustedAvailable(g).message().find("0.4.1"), std::string::npos);
  g = f;
  g.libseccomp_ok = false;
  EXPECT_NE(CheckUntrustedAvailable(g).message().find("libseccomp"), std::string::npos);
}

TEST(HostFeaturesTest, ThisHostSupportsUntrusted) {
  HostFeatures f = ProbeHost("/usr/bin/bwrap");
  std::string report = DescribeHost(f);
  Status s = CheckUntrustedAvailable(f);
  if (!f.bwrap_found) GTEST_SKIP() << s.message();
  EXPECT_TRUE(s.ok()) << report;
  EXPECT_EQ(f.bwrap_version.empty(), false) << report;
  EXPECT_NE(report.find("untrusted profile: available"), std::string::npos) << report;
}

}  // namespace
}  // namespace hero::sandbox
