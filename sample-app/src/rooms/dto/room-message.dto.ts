import { Transform } from 'class-transformer';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { MAX_TEXT_LENGTH, trim } from '../../chat/dto/chat-message.dto.js';
import { JoinRoomDto } from './join-room.dto.js';

export class RoomMessageDto extends JoinRoomDto {
  @Transform(trim)
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_TEXT_LENGTH)
  text!: string;
}
