import { z } from 'zod';
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

// The page's CSP forbids eval; zod must not even try its compiled parsers.
z.config({ jitless: true });

mount(App, { target: document.getElementById('app')! });
