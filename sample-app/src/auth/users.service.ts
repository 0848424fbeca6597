import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { DemoUser, SampleConfig } from '../sample.config.js';

@Injectable()
export class UsersService {
  private readonly users: DemoUser[];

  constructor(config: ConfigService) {
    this.users = config.getOrThrow<SampleConfig>('sample').users;
  }

  all(): DemoUser[] {
    return this.users;
  }

  find(id: string): DemoUser | undefined {
    return this.users.find((u) => u.id === id.toLowerCase());
  }
}
