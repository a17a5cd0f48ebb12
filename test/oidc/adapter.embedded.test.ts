import { adapterContract } from './adapterContract.ts';

adapterContract('embedded');
