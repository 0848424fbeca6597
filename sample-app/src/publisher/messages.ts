/**
 * What the sample publishes. Every message's data carries its `kind` and a unique `id`, and the
 * same kind goes out as the event type, so pages can tell messages apart on either server.
 */
export const EVENT_TYPES = ['chat', 'private', 'notice', 'joined', 'progress', 'room'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface ChatMessage {
  kind: 'chat';
  id: string;
  from: string;
  text: string;
  at: string;
}

export interface PrivateMessage {
  kind: 'private';
  id: string;
  from: string;
  to: string;
  text: string;
  at: string;
}

export interface SessionNotice {
  kind: 'notice';
  id: string;
  text: string;
  at: string;
}

export interface JoinedNotice {
  kind: 'joined';
  id: string;
  name: string;
  at: string;
}

export interface TaskProgress {
  kind: 'progress';
  id: string;
  taskId: string;
  percent: number;
  done: boolean;
  at: string;
}

/** A line in a room (`__room__<name>`), for its members only. */
export interface RoomMessage {
  kind: 'room';
  id: string;
  room: string;
  from: string;
  text: string;
  at: string;
}

export type SampleMessage = ChatMessage | PrivateMessage | SessionNotice | JoinedNotice | TaskProgress | RoomMessage;
