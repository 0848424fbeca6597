export {
  NGINX_CONFIG_DIR,
  NginxConfigValueError,
  renderMainConfig,
  renderServerConfig,
  renderStandaloneConfig,
  renderTemplate,
  validateNginxConfigValues,
  type NginxConfigValues,
} from './nginx-config.js';
