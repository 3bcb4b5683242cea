/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner certgen`: make the webhook's CA and serving certificate into a
 * directory or a Secret, and patch the CA into a MutatingWebhookConfiguration. */
#ifndef PT_CLI_CERTGEN_H
#define PT_CLI_CERTGEN_H

/* Run the subcommand. argv[0] is "certgen". Returns the exit status:
 * 0 success, 1 failure, 2 usage error. Messages go to stderr; a Secret
 * manifest (--secret-name without --secret-apply) goes to stdout. */
int certgen_main(int argc, char **argv);

#endif
