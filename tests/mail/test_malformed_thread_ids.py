"""A reply whose Message-ID is malformed (no ``@``) must not poison its thread.

Such a reply is still read and applied; only its id stays out of the References of
the drafts that follow, which otherwise compose() refuses for good.
"""

from __future__ import annotations

from maild.sandbox.mail import make_message
from tests.mail.conftest import MENTOR, World
from tests.mail.worlds import send


def test_a_reply_without_at_in_its_message_id_leaves_later_drafts_sendable(
        world: World) -> None:
    ask_id, first_id = world.cold_ask_sent()
    world.deliver(make_message(
        sender=MENTOR, to=world.account.email, subject="Re: Question",
        body="Thank you for reaching out, but unfortunately I am not taking on any new "
             "students this year.", in_reply_to=first_id, references=[first_id],
        message_id="<nohost>", date=world.clock()))
    world.sync()
    assert world.state(ask_id) == "declined"
    [thanks] = [d for d in world.store.read.drafts.with_status("pending")
                if d.ask_id == ask_id and d.spec.template == "decline_thanks"]
    assert "<nohost>" not in thanks.spec.references
    assert first_id in thanks.spec.references
    world.approve(thanks.id)
    world.clock.advance(days=1)  # one email a day per mentor: the initial went out today
    assert send(world, thanks.id) == "sent"
    [message] = [m.message for m in world.smtp.messages
                 if m.message["Message-ID"] == thanks.spec.message_id]
    assert first_id in message["References"] and "nohost" not in message["References"]
