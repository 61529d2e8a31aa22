-- Access that outlived the right (issue 66): the rules that now end access at the moment the right
-- ends, applied once to what was left from before them. Data only. Kept in step with
-- migrations/sqlite.

-- A trade needs two active parties: disabling an account cancels its open trades (see
-- `crates/store/src/trades.rs`). Those of accounts disabled before are cancelled here, each with
-- its `trade.cancelled` event, written as the item trigger of `trades` writes it. Trades past
-- their expiry are the expiry schedule's.
WITH cancelled AS (
    UPDATE trades SET status = 'cancelled', version = version + 1, updated_at = (now() AT TIME ZONE 'UTC')
    WHERE status = 'open'
      AND expires_at > (now() AT TIME ZONE 'UTC')
      AND EXISTS (SELECT 1 FROM users
                  WHERE users.id IN (trades.proposer_id, trades.recipient_id) AND users.status <> 'active')
    RETURNING id, proposer_id, recipient_id, updated_at
)
INSERT INTO outbox (event, subject_id, audience, payload, occurred_at)
SELECT 'trade.cancelled', id, '[' || proposer_id || ',' || recipient_id || ']',
       '{"id":' || id || ',"status":"cancelled"}', updated_at
FROM cancelled;

-- A chat message carries a file only while its sender owns it: an accepted trade takes the
-- files it moves out of the messages that carried them. Those traded before leave them here.
DELETE FROM chat_attachments
WHERE EXISTS (SELECT 1 FROM chat_messages, files
              WHERE chat_messages.id = chat_attachments.message_id
                AND files.id = chat_attachments.file_id
                AND files.owner_id <> chat_messages.sender_id);

-- A member who leaves or is removed takes the invitations they made with them. Those who left
-- before: invitations whose maker is no member of the project any more, nor a platform admin
-- (who may invite to any project without being a member).
DELETE FROM project_invites
WHERE NOT EXISTS (SELECT 1 FROM project_members
                  WHERE project_members.project_id = project_invites.project_id
                    AND project_members.user_id = project_invites.created_by)
  AND NOT EXISTS (SELECT 1 FROM users
                  WHERE users.id = project_invites.created_by AND users.role IN ('admin', 'super_admin'));
