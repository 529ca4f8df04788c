"""The intake: every channel's one way in (citizen self-service, field online, field batch; paper forms and bulk
files next). A photo reading or typed identifiers become one credential record, validated once, images stored
once, refusals typed (`registry.intake.refusals`)."""
