import { Injectable } from '@nestjs/common';
import { PushStreamChannels } from 'nestjs-push-stream';

/** The channel kind of a room: `<prefix>__room__<name>`, authorized by RoomChannelRule. */
export const ROOM_KIND = 'room';

/** The sample's rooms. Names are channel values: letters, digits, "_" and "-", no "__". */
export const ROOMS = ['nestjs', 'nginx'] as const;

export interface RoomView {
  name: string;
  channel: string;
  member: boolean;
}

/**
 * Who is in which room, by user id. In memory, for the demo: an application keeps memberships in
 * its database (a restart empties them here, and several app instances would each have their own).
 * Only logged-in users are members; a visitor who logs out keeps the membership, but is refused
 * until logged in again (the rule needs a user).
 */
@Injectable()
export class RoomsService {
  private readonly members = new Map<string, Set<string>>(ROOMS.map((room) => [room, new Set<string>()]));

  constructor(private readonly channels: PushStreamChannels) {}

  exists(room: string): boolean {
    return this.members.has(room);
  }

  /** `my-app__room__<room>`, built and checked by the package. */
  channel(room: string): string {
    return this.channels.custom(ROOM_KIND, room);
  }

  join(room: string, userId: string): void {
    this.members.get(room)?.add(userId);
  }

  /** False for a room that does not exist: `room` may be anything nginx was asked for. */
  isMember(room: string, userId: string): boolean {
    return this.members.get(room)?.has(userId) ?? false;
  }

  /** Every room, with whether `userId` (null: an anonymous visitor) is in it. */
  list(userId: string | null): RoomView[] {
    return [...this.members.keys()].map((name) => ({ name, channel: this.channel(name), member: userId !== null && this.isMember(name, userId) }));
  }
}
